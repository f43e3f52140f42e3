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
import threading
import unittest

from harness import REPO, WorkerTestCase, function_dir

BUILD = os.path.join(REPO, "tools", "images", "build.sh")
DEP = "simplejson"  # python3-simplejson: in the image, not among the project's host packages


def add_layer(layout, tag, new_tag, folder):
    """new_tag: tag's image plus one small layer (different layers: its own
    unpacked root in the worker's cache)."""
    os.makedirs(os.path.join(folder, "extra"), exist_ok=True)
    with open(os.path.join(folder, "extra", new_tag), "w") as f:
        f.write(new_tag)
    tar = os.path.join(folder, f"{new_tag}.tar")
    subprocess.run(["tar", "-C", folder, "-cf", tar, "extra"], check=True)
    subprocess.run(["umoci", "raw", "add-layer", "--image", f"{layout}:{tag}", "--tag", new_tag, tar],
                   check=True, capture_output=True)


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
        self.assertRegistered("probe", "oci", image=f"oci:{self.layout}:v1", memory=256)
        out = self.probe("oci", "cold")
        if not out["module_file"] or not out["module_file"].startswith("/usr/lib/python3/dist-packages/"):
            self.fail_with_log(f"the image's {DEP} was not importable: {out}")
        if not out["debian_version"] or out["executable"] != "/usr/bin/python3" or out["cwd"] != "/app":
            self.fail_with_log(f"not running in the image's root with its Python from /app: {out}")
        if out["root_writable"] or not out["tmp_writable"]:
            self.fail_with_log(f"the image's root must be read-only and /tmp writable: {out}")
        # isolation as for folders: loopback only, the registration's memory
        if out["interfaces"] != ["lo"]:
            self.fail_with_log(f"an image container must have only loopback: {out['interfaces']}")
        cid = self.worker.invoke("probe", "oci", {}).json["container_id"]
        limit = f"/sys/fs/cgroup/memory/{self.worker.cgroup_parent}/{cid}/memory.limit_in_bytes"
        if os.path.exists(limit):  # the cgroup v1 memory hierarchy (this host's layout)
            with open(limit) as f:
                self.assertEqual(int(f.read()), 256 * 1024 * 1024)
        self.probe("oci", "warm")
        # a folder function has neither: the host's lean root, no site-packages
        self.assertRegistered("imageprobe", "folder")
        r = self.assertInvokeOK("imageprobe", "folder", {"module": DEP})
        self.assertIsNone(r.result()["module_file"])
        self.assertFalse(r.result()["debian_version"])

    def test_docker_archive_shares_the_layouts_root(self):
        self.assertRegistered("probe", "archive", image=f"docker-archive:{self.archive}")
        out = self.probe("archive", "cold")
        self.assertTrue(out["module_file"], out)
        self.assertRegistered("probe", "oci-too", image=f"oci:{self.layout}:v1")
        # and an OCI archive of it (oci-archive:, as `skopeo copy` or buildah write)
        oarch = os.path.join(self.worker.functions_root, "probe-oci.tar")
        subprocess.run(["skopeo", "copy", "--quiet", f"oci:{self.layout}:v1", f"oci-archive:{oarch}:v1"],
                       check=True, capture_output=True)
        self.assertRegistered("probe", "oci-archive", image=f"oci-archive:{oarch}")
        self.assertInvokeOK("probe", "oci-archive", {"module": DEP})
        log = self.worker.log()
        names = {line.split(" ready: ")[1].split(",")[0] for line in log.splitlines()
                 if " ready: sha256-" in line and any(k in line for k in ("probe.tar", "probe-layout:v1", "probe-oci"))}
        if len(names) != 1:
            self.fail_with_log(f"the layout and its archives should share one unpacked root, got {names}")

    def test_bad_references_are_400_and_leave_nothing(self):
        outside = "/tmp/ilu-e2e-not-a-function-root"
        cases = [
            (f"oci:{self.worker.functions_root}/no-such-layout:v1", "No such file or directory"),
            (f"oci:{self.layout}:no-such-tag", "cannot read the image"),
            (f"oci:{outside}:v1", "not under any of functions_dirs"),
            (f"docker-archive:{function_dir('echo')}/main.py", "cannot read the image"),
            # a registry this host cannot reach: skopeo's reason, at once
            ("docker://registry.invalid/none:latest", "registry.invalid"),
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

    def test_concurrent_registrations_share_one_preparation(self):
        ref = f"oci:{self.layout}:v1"
        before = self.worker.log().count(f"preparing image {ref}")
        results = []

        def register(version):
            results.append(self.worker.register("probe", version, image=ref, client=self.worker.new_client()))

        threads = [threading.Thread(target=register, args=(f"conc{i}",)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for r in results:
            self.assertHTTP(r, 200, "concurrent registration")
        started = self.worker.log().count(f"preparing image {ref}") - before
        if not 1 <= started <= 2:  # one run; a second only if one finished before the last arrived
            self.fail_with_log(f"4 concurrent registrations started {started} preparations")

    def test_image_without_the_function_is_400(self):
        # the same image with its WORKDIR moved where there is no main.py
        subprocess.run(["umoci", "config", "--image", f"{self.layout}:v1", "--tag", "nowork",
                        "--config.workingdir", "/srv"], check=True, capture_output=True)
        r = self.worker.register("probe", "nowork", image=f"oci:{self.layout}:nowork")
        body = self.assertError(r, 400, "bad_image", "image without main.py")
        self.assertIn("/srv/main.py", body["error"])
        # a reference that worked, then moved to such an image: the new
        # registration fails, the function registered earlier keeps running
        subprocess.run(["umoci", "tag", "--image", f"{self.layout}:v1", "keep"], check=True, capture_output=True)
        self.assertRegistered("probe", "keep", image=f"oci:{self.layout}:keep")
        subprocess.run(["umoci", "tag", "--image", f"{self.layout}:nowork", "keep"], check=True, capture_output=True)
        self.assertError(self.worker.register("probe", "keep2", image=f"oci:{self.layout}:keep"), 400, "bad_image")
        self.assertHTTP(self.worker.post("/clean"), 200, "clean")
        self.assertInvokeOK("probe", "keep", {"module": DEP}, state="cold")

    def test_cache_is_reported_and_clean_removes_unused_images(self):
        # a second image (another config), registered; then its tag moved back
        # to the first image and registered again: the second is unused
        self.assertRegistered("probe", "cache0", image=f"oci:{self.layout}:v1")
        add_layer(self.layout, "v1", "other", self.worker.root)
        self.assertRegistered("probe", "other1", image=f"oci:{self.layout}:other")
        st = self.worker.status()
        if st.get("image_cache_entries", 0) < 2 or st.get("image_cache_mb", 0) <= 0:
            self.fail_with_log(f"/status should count two unpacked images: {st}")
        metrics = self.worker.get("/metrics").text
        self.assertIn("iluvatar_image_cache_entries", metrics)
        subprocess.run(["umoci", "tag", "--image", f"{self.layout}:v1", "other"], check=True, capture_output=True)
        self.assertRegistered("probe", "other2", image=f"oci:{self.layout}:other")
        r = self.assertHTTP(self.worker.post("/clean"), 200, "clean")
        if r.json.get("images_removed") != 1:
            self.fail_with_log(f"clean should remove the one unused image: {r!r}")
        self.assertEqual(self.worker.status()["image_cache_entries"], st["image_cache_entries"] - 1)
        self.assertInvokeOK("probe", "other2", {"module": DEP})


@unittest.skipUnless(all(shutil.which(t) for t in ("skopeo", "umoci", "mmdebstrap")),
                     "needs skopeo, umoci and mmdebstrap (scripts/install-deps.sh)")
class ImageCacheBoundTest(WorkerTestCase):
    """oci.image_cache_max_mb: after each preparation, unused images go, least
    recently used first, until the cache fits; images in use always stay."""
    CONFIG = {"oci": {"image_cache_max_mb": 1}}

    def test_unused_images_go_when_over_the_bound(self):
        layout = os.path.join(self.worker.functions_root, "bound-layout")
        build_image(function_dir("imageprobe"), layout, "a", packages=(f"python3-{DEP}",))
        add_layer(layout, "a", "b", self.worker.root)
        self.assertRegistered("probe", "a", image=f"oci:{layout}:a")
        self.assertRegistered("probe", "b", image=f"oci:{layout}:b")
        # both in use: over the bound, nothing may go
        self.assertEqual(self.worker.status()["image_cache_entries"], 2)
        if "every entry left is in use" not in self.worker.log():
            self.fail_with_log("no warning that the cache is over its bound with every entry in use")
        # b's tag now names a's image: b's old image is unused and goes at once
        subprocess.run(["umoci", "tag", "--image", f"{layout}:a", "b"], check=True, capture_output=True)
        self.assertRegistered("probe", "b2", image=f"oci:{layout}:b")
        self.assertEqual(self.worker.status()["image_cache_entries"], 1)
        self.assertInvokeOK("probe", "b2", {"module": DEP})


@unittest.skipUnless(all(shutil.which(t) for t in ("skopeo", "umoci", "mmdebstrap")),
                     "needs skopeo, umoci and mmdebstrap (scripts/install-deps.sh)")
class FunctionBenchImagesTest(WorkerTestCase):
    """The two bundled functions that need Debian packages, built as images
    from their own packages.txt and run cold then warm."""
    CONFIG = {"container_resources": {"memory_mb": 1024}}

    def run_bundled(self, name, args, check):
        layout = os.path.join(self.worker.functions_root, f"{name}-layout")
        build_image(function_dir(name), layout, "latest")
        self.assertRegistered(name, "img", image=f"oci:{layout}:latest", memory=256)
        for state in ("cold", "warm"):
            body = self.assertInvokeOK(name, "img", args, state=state).result()["body"]
            check(body)

    def test_image_processing_runs_with_pillow(self):
        def check(body):
            self.assertEqual(body["width"], 128)
            self.assertTrue(body["operations"], body)
        self.run_bundled("image_processing", {"width": 128, "height": 96}, check)

    def test_matmul_numpy_runs_with_numpy(self):
        def check(body):
            self.assertEqual(body["n"], 64)
        self.run_bundled("matmul_numpy", {"n": 64}, check)
