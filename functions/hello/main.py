"""Ilúvatar's hello: greets the `name` argument."""
import time

cold = True


def main(args):
    global cold
    start = time.time()
    was_cold = cold
    cold = False
    name = args.get("name", "stranger")
    end = time.time()
    return {"body": {"greeting": f"Hello {name} from python!", "cold": was_cold,
                     "start": start, "end": end, "latency": end - start}}
