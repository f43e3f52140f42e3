"""FunctionBench image_processing: applies to one image the operations that
FunctionBench's image_processing does with Pillow (flip left-right and top-bottom,
rotate 90/180/270, blur/contour/sharpen filters, gray scale, resize to a thumbnail),
encoding each result as JPEG in memory where FunctionBench saves it to a file.
The input is a seeded test image drawn in memory (gradients plus random shapes),
so the function needs no file and no network. Needs Pillow, so it runs from an
image built with tools/images/build.sh (packages.txt: python3-pil).
Arguments (ints, or strings as the CLI sends them): `width` and `height`, default
512 (16 .. 8192); `thumbnail`, the longest side after resize, default 128
(1 .. 8192); `seed`, default 42. Returns Ilúvatar's body with cold/start/end/latency
plus the input size, and for each operation its output size, JPEG bytes and
elapsed seconds, and the total seconds spent in the operations.
"""
import io
import random
import time

from PIL import Image, ImageDraw, ImageFilter

cold = True

# Pillow >= 9.1 groups its constants in enums; older ones have them on Image.
_TRANSPOSE = getattr(Image, "Transpose", Image)
_RESAMPLE = getattr(Image, "Resampling", Image)


def _int_arg(args, key, default, lo, hi):
    """args[key] as an int in [lo, hi]; accepts ints, integral floats and strings."""
    value = args.get(key, default)
    number = None
    if isinstance(value, bool):
        pass
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str):
        try:
            number = int(value.strip())
        except ValueError:
            pass
    if number is None:
        raise ValueError(f"argument {key!r} must be an integer, got {value!r}")
    if not lo <= number <= hi:
        raise ValueError(f"argument {key!r} must be between {lo} and {hi}, got {number}")
    return number


def test_image(width, height, seed):
    """An RGB picture with edges and smooth areas, so the filters have work to do."""
    red = Image.linear_gradient("L").resize((width, height))
    green = Image.radial_gradient("L").resize((width, height))
    blue = red.transpose(_TRANSPOSE.ROTATE_90).resize((width, height))
    image = Image.merge("RGB", (red, green, blue))
    draw = ImageDraw.Draw(image)
    rng = random.Random(seed)
    for _ in range(40):
        x0, x1 = sorted(rng.randrange(width) for _ in range(2))
        y0, y1 = sorted(rng.randrange(height) for _ in range(2))
        color = tuple(rng.randrange(256) for _ in range(3))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape((x0, y0, x1, y1), fill=color, outline=(0, 0, 0))
    return image


def _thumbnail(image, side):
    out = image.copy()
    out.thumbnail((side, side), _RESAMPLE.LANCZOS)
    return out


def operations(thumbnail):
    """(name, function of the image) in FunctionBench's order."""
    return [
        ("flip_left_right", lambda im: im.transpose(_TRANSPOSE.FLIP_LEFT_RIGHT)),
        ("flip_top_bottom", lambda im: im.transpose(_TRANSPOSE.FLIP_TOP_BOTTOM)),
        ("rotate_90", lambda im: im.transpose(_TRANSPOSE.ROTATE_90)),
        ("rotate_180", lambda im: im.transpose(_TRANSPOSE.ROTATE_180)),
        ("rotate_270", lambda im: im.transpose(_TRANSPOSE.ROTATE_270)),
        ("filter_blur", lambda im: im.filter(ImageFilter.BLUR)),
        ("filter_contour", lambda im: im.filter(ImageFilter.CONTOUR)),
        ("filter_sharpen", lambda im: im.filter(ImageFilter.SHARPEN)),
        ("gray_scale", lambda im: im.convert("L")),
        ("resize", lambda im: _thumbnail(im, thumbnail)),
    ]


def main(args):
    global cold
    start = time.time()
    was_cold = cold
    cold = False
    args = args or {}
    width = _int_arg(args, "width", 512, 16, 8192)
    height = _int_arg(args, "height", 512, 16, 8192)
    thumbnail = _int_arg(args, "thumbnail", 128, 1, 8192)
    seed = _int_arg(args, "seed", 42, -2**63, 2**63 - 1)
    image = test_image(width, height, seed)
    results = []
    for name, operation in operations(thumbnail):
        t0 = time.perf_counter()
        out = operation(image)
        buffer = io.BytesIO()
        out.save(buffer, format="JPEG", quality=85)
        elapsed = time.perf_counter() - t0
        results.append({"operation": name, "width": out.width, "height": out.height,
                        "mode": out.mode, "jpeg_bytes": buffer.tell(), "elapsed_s": elapsed})
    end = time.time()
    return {"body": {"width": width, "height": height, "operations": results,
                     "operations_s": sum(r["elapsed_s"] for r in results),
                     "pillow": Image.__version__, "cold": was_cold,
                     "start": start, "end": end, "latency": end - start}}
