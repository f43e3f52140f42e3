"""Allocates and touches args["mb"] MB, to go past the container's memory limit."""


def main(args):
    mb = int(args.get("mb", 0))
    block = bytearray(mb * 1024 * 1024)
    for i in range(0, len(block), 4096):  # touch every page so it is resident
        block[i] = 1
    return {"allocated_mb": mb}
