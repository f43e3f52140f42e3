"""Synthetic GPU load: the GPU counterpart of functions/synthetic, with no
Python packages. It drives NVIDIA's CUDA driver API (libcuda.so.1, which a
GPU container gets with the driver's libraries) through ctypes: a small
PTX kernel that spins on the GPU's %globaltimer for the time asked, and a
copy of some megabytes to the GPU.

Arguments (strings or numbers; the CLI and trace metadata send strings):
  ms       GPU time the kernel spins, in milliseconds (default 10)
  mb       megabytes copied host -> GPU before the kernel (default 0)
  blocks   thread blocks of 32 threads the kernel is launched with (default 1)
  cold_ms / warm_ms  alternative to ms: the kernel's time on the first /
           later calls, as the load generator sends from trace metadata

The first call in a container initialises CUDA (cuInit, the primary
context, loading the kernel): its `init_ms`; later calls reuse them. It
returns those timings, the device's name, whether the call was cold and
the CUDA variables the worker set.
Without libcuda it fails saying so."""
import ctypes
import os
import time

PTX = b"""
.version 6.0
.target sm_50
.address_size 64

.visible .entry spin(
    .param .u64 spin_param_0
)
{
    .reg .pred %p<2>;
    .reg .b64 %rd<5>;

    ld.param.u64 %rd1, [spin_param_0];
    mov.u64 %rd2, %globaltimer;
$L_spin:
    mov.u64 %rd3, %globaltimer;
    sub.s64 %rd4, %rd3, %rd2;
    setp.lt.u64 %p1, %rd4, %rd1;
    @%p1 bra $L_spin;
    ret;
}
"""

_cuda = None  # the library, once loaded
_kernel = None  # the spin kernel of this process's primary context
_device_name = ""


def _num(args, key, default):
    value = args.get(key, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise ValueError(f"argument {key!r} must be a number, got {value!r}")


def _load():
    errors = []
    for name in ("libcuda.so.1", "libcuda.so"):
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError as e:
            errors.append(str(e))
    else:
        raise RuntimeError(
            "gpu_synthetic needs NVIDIA's CUDA driver library libcuda.so.1, which could not be loaded ("
            + "; ".join(errors) + f"; LD_LIBRARY_PATH={os.environ.get('LD_LIBRARY_PATH', '')!r}): "
            "register it with compute GPU on a worker with container_resources.gpu_resource.count > 0")
    c = ctypes
    sigs = {
        "cuInit": [c.c_uint],
        "cuDeviceGet": [c.POINTER(c.c_int), c.c_int],
        "cuDeviceGetName": [c.c_char_p, c.c_int, c.c_int],
        "cuDevicePrimaryCtxRetain": [c.POINTER(c.c_void_p), c.c_int],
        "cuCtxSetCurrent": [c.c_void_p],
        "cuCtxSynchronize": [],
        "cuModuleLoadData": [c.POINTER(c.c_void_p), c.c_char_p],
        "cuModuleGetFunction": [c.POINTER(c.c_void_p), c.c_void_p, c.c_char_p],
        "cuLaunchKernel": [c.c_void_p] + [c.c_uint] * 7 + [c.c_void_p, c.POINTER(c.c_void_p), c.POINTER(c.c_void_p)],
        "cuMemAlloc_v2": [c.POINTER(c.c_uint64), c.c_size_t],
        "cuMemcpyHtoD_v2": [c.c_uint64, c.c_void_p, c.c_size_t],
        "cuMemFree_v2": [c.c_uint64],
        "cuGetErrorName": [c.c_int, c.POINTER(c.c_char_p)],
    }
    for fn, argtypes in sigs.items():
        f = getattr(lib, fn)
        f.argtypes = argtypes
        f.restype = c.c_int
    return lib


def _check(rc, what):
    if rc != 0:
        name = ctypes.c_char_p()
        if _cuda.cuGetErrorName(rc, ctypes.byref(name)) != 0 or not name.value:
            name.value = b"unknown error"
        raise RuntimeError(f"{what} failed: {name.value.decode()} ({rc})")


def _init():
    """cuInit, device 0 (the container's one GPU), its primary context, the kernel."""
    global _cuda, _kernel, _device_name
    _cuda = _load()
    _check(_cuda.cuInit(0), "cuInit")
    dev = ctypes.c_int()
    _check(_cuda.cuDeviceGet(ctypes.byref(dev), 0), "cuDeviceGet")
    name = ctypes.create_string_buffer(128)
    _check(_cuda.cuDeviceGetName(name, 128, dev), "cuDeviceGetName")
    _device_name = name.value.decode(errors="replace")
    ctx = ctypes.c_void_p()
    _check(_cuda.cuDevicePrimaryCtxRetain(ctypes.byref(ctx), dev), "cuDevicePrimaryCtxRetain")
    _check(_cuda.cuCtxSetCurrent(ctx), "cuCtxSetCurrent")
    module = ctypes.c_void_p()
    _check(_cuda.cuModuleLoadData(ctypes.byref(module), PTX), "cuModuleLoadData (the spin kernel's PTX)")
    kernel = ctypes.c_void_p()
    _check(_cuda.cuModuleGetFunction(ctypes.byref(kernel), module, b"spin"), "cuModuleGetFunction")
    _kernel = kernel


def _copy(mb):
    size = int(mb * 1024 * 1024)
    if size <= 0:
        return 0.0
    host = ctypes.create_string_buffer(size)
    dptr = ctypes.c_uint64()
    t = time.perf_counter()
    _check(_cuda.cuMemAlloc_v2(ctypes.byref(dptr), size), f"cuMemAlloc_v2 of {mb} MB")
    try:
        _check(_cuda.cuMemcpyHtoD_v2(dptr.value, ctypes.cast(host, ctypes.c_void_p), size), "cuMemcpyHtoD_v2")
        _check(_cuda.cuCtxSynchronize(), "cuCtxSynchronize")
    finally:
        _cuda.cuMemFree_v2(dptr.value)
    return (time.perf_counter() - t) * 1000.0


def _spin(ms, blocks):
    ns = ctypes.c_uint64(int(ms * 1e6))
    params = (ctypes.c_void_p * 1)(ctypes.cast(ctypes.pointer(ns), ctypes.c_void_p))
    t = time.perf_counter()
    _check(_cuda.cuLaunchKernel(_kernel, blocks, 1, 1, 32, 1, 1, 0, None, params, None), "cuLaunchKernel")
    _check(_cuda.cuCtxSynchronize(), "cuCtxSynchronize after the kernel")
    return (time.perf_counter() - t) * 1000.0


def plan(args, cold):
    """The kernel's ms, the megabytes and the blocks asked for (checked)."""
    ms = _num(args, "ms", 10.0)
    if "cold_ms" in args or "warm_ms" in args:
        ms = _num(args, "cold_ms" if cold else "warm_ms", ms)
    mb = _num(args, "mb", 0.0)
    blocks = _num(args, "blocks", 1.0)
    if ms < 0 or mb < 0 or not 1 <= blocks <= 65535 or blocks != int(blocks):
        raise ValueError("ms and mb must not be negative, blocks must be a whole number from 1 to 65535")
    return ms, mb, int(blocks)


def main(args):
    t0 = time.time()
    cold = _kernel is None
    ms, mb, blocks = plan(args, cold)
    init_ms = 0.0
    if cold:
        t = time.perf_counter()
        _init()
        init_ms = (time.perf_counter() - t) * 1000.0
    copy_ms = _copy(mb)
    kernel_ms = _spin(ms, blocks)
    end = time.time()
    return {"body": {"cold": cold, "start": t0, "end": end, "latency": end - t0, "device": _device_name,
                     "init_ms": init_ms, "copy_ms": copy_ms, "kernel_ms": kernel_ms,
                     "ms": ms, "mb": mb, "blocks": blocks,
                     # what the worker set for this container (docs/gpu.md)
                     "env": {k: os.environ.get(k) for k in ("CUDA_VISIBLE_DEVICES", "CUDA_MPS_PIPE_DIRECTORY",
                                                            "CUDA_MPS_ACTIVE_THREAD_PERCENTAGE")}}}
