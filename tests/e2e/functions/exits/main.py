"""Kills its own process with exit code args["code"] when given, so the worker
sees the container's agent die mid-invocation; answers normally otherwise."""
import os


def main(args):
    if "code" in args:
        os._exit(int(args["code"]))
    return {"alive": True}
