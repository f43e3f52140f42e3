"""Functions registered as OCI images (docs/functions.md, "Functions with
dependencies"): an image built offline by tools/images/build.sh (a Debian base
with python3 and a package the host does not have, the function in /app) is
registered by oci: layout and by docker-archive:, runs cold then warm with
the image's own Python and dependency, in a read-only root; bad references
are 400s that leave nothing behind.

The Debian base is built once per machine (mmdebstrap from the Debian mirror,
cached under /var/cache/iluvatar/images), so the first run takes a minute or
two longer."""
import os
import shutil
import subprocess
import unittest

from harness import REPO, WorkerTestCase, function_dir

BUILD = os.path.join(REPO, "tools", "images", "build.sh")
DEP = "simplejson"  # python3-simplejson: in the image, not among the project's host packages


def build_image(fn_dir, layout, tag, archive=None, packages=()):
    cmd = ["bash", BUILD, "--function", fn_dir, "--out", f"{layout}:{tag}"]
    if packages:
        cmd += ["--packages", " ".join(packages)]
    if archive:
        cmd += ["--docker-archive", archive]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        raise AssertionError(f"tools/images/build.sh failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")


@unittest.skipUnless(all(shutil.which(t) for t in ("skopeo", "umoci", "mmdebstrap")),
                     "needs skopeo, umoci and mmdebstrap (scripts/install-deps.sh)")
class ImageFunctionTest(WorkerTestCase):
    CONFIG = {"container_resources": {"memory_mb": 1024}}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        root = cls.worker.functions_root
        cls.layout = os.path.join(root, "probe-layout")
        cls.archive = os.path.join(root, "probe.tar")
        build_image(function_dir("imageprobe"), cls.layout, "v1", archive=cls.archive, packages=(f"python3-{DEP}",))

    def probe(self, version, state):
        r = self.assertInvokeOK("probe", version, {"module": DEP}, state=state)
        return r.result()

    def test_oci_layout_runs_with_the_images_python_and_dependency(self):
        self.assertRegistered("probe", "oci", image=f"oci:{self.layout}:v1")
        out = self.probe("oci", "cold")
        if not out["module_file"] or not out["module_file"].startswith("/usr/lib/python3/dist-packages/"):
            self.fail_with_log(f"the image's {DEP} was not importable: {out}")
        if not out["debian_version"] or out["executable"] != "/usr/bin/python3" or out["cwd"] != "/app":
            self.fail_with_log(f"not running in the image's root with its Python from /app: {out}")
        if out["root_writable"] or not out["tmp_writable"]:
            self.fail_with_log(f"the image's root must be read-only and /tmp writable: {out}")
        self.probe("oci", "warm")
        # a folder function has neither: the host's lean root, no site-packages
        self.assertRegistered("imageprobe", "folder")
        r = self.assertInvokeOK("imageprobe", "folder", {"module": DEP})
        self.assertIsNone(r.result()["module_file"])
        self.assertFalse(r.result()["debian_version"])

    def test_docker_archive_is_the_same_image(self):
        self.assertRegistered("probe", "archive", image=f"docker-archive:{self.archive}")
        out = self.probe("archive", "cold")
        self.assertTrue(out["module_file"], out)
        entries = [e for e in os.listdir(os.path.join(self.worker.state_dir, "images")) if e.startswith("sha256-")]
        if len(set(entries)) != 1:
            self.fail_with_log(f"the layout and its docker-archive should share one cache entry, found {entries}")

    def test_bad_references_are_400_and_leave_nothing(self):
        outside = "/tmp/ilu-e2e-not-a-function-root"
        cases = [
            (f"oci:{self.worker.functions_root}/no-such-layout:v1", "No such file or directory"),
            (f"oci:{self.layout}:no-such-tag", "cannot read the image"),
            (f"oci:{outside}:v1", "not under any of functions_dirs"),
            (f"docker-archive:{function_dir('echo')}/main.py", "cannot read the image"),
        ]
        os.makedirs(outside, exist_ok=True)
        try:
            for ref, why in cases:
                r = self.worker.register("bad", "1", image=ref)
                body = self.assertError(r, 400, "bad_image", ref)
                if why not in body["error"]:
                    self.fail_with_log(f"{ref}: error should say {why!r}: {body['error']}")
        finally:
            shutil.rmtree(outside, ignore_errors=True)
        cache = os.path.join(self.worker.state_dir, "images")
        leftovers = [e for e in os.listdir(cache) if e.endswith(".part")] + os.listdir(os.path.join(cache, "tmp"))
        if leftovers:
            self.fail_with_log(f"failed registrations left {leftovers} in the image cache")

    def test_image_without_the_function_is_400(self):
        # the same image with its WORKDIR moved where there is no main.py
        subprocess.run(["umoci", "config", "--image", f"{self.layout}:v1", "--tag", "nowork",
                        "--config.workingdir", "/srv"], check=True, capture_output=True)
        r = self.worker.register("probe", "nowork", image=f"oci:{self.layout}:nowork")
        body = self.assertError(r, 400, "bad_image", "image without main.py")
        self.assertIn("/srv/main.py", body["error"])
