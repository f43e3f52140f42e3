/* Private to the oci backend: state shared by runtime.c (the runtime, exits),
 * bundle.c (root and config.json), agent_client.c (socket), sandbox.c
 * (generic sandboxes: assign) and oci.c (ops). */
#ifndef ILU_OCI_INT_H
#define ILU_OCI_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/agent_codec.h"
#include "backend/oci/oci.h"
#include "core/types.h"
#include "os/gpu.h"
#include "os/mailbox.h"

struct event;
struct ilu_reaper;
struct oci_backend;

enum oci_ct_state {
    OCI_CT_SPAWNING,   /* `runtime run --detach` still running */
    OCI_CT_CONNECTING, /* runtime done; waiting for the agent socket */
    OCI_CT_READY,      /* connected; takes invocations */
    OCI_CT_LOADING,    /* a generic sandbox being assigned: the agent imports the function */
    OCI_CT_DEAD,       /* death reported to the core; waits for destroy */
    OCI_CT_TEARDOWN,   /* destroyed by the core: no more callbacks */
};

/* One container, owned by the backend (c->backend_data points here until
 * destroy; after that ct lives on until its `delete` finished). */
struct oci_ct {
    struct oci_backend *ob;
    struct ilu_container *c; /* NULL once destroyed */
    char id[96];
    char tid[64];         /* of the create, for later log lines */
    char dir[352];        /* bundle dir <state>/containers/<id> */
    char image_entry[80]; /* the image cache entry its root is in, "" : a folder function */
    enum oci_ct_state state;
    pid_t run_pid;  /* `run` process, 0 once reaped */
    pid_t init_pid; /* container init (the agent), 0 unknown */
    bool init_exited;
    int init_status;
    uint64_t create_ns;
    /* agent connection */
    int sock;
    struct event *grace_timer; /* after EOF, waits briefly for the exit status */
    struct event *rev, *wev;
    bool in_flight;
    bool ready_pending; /* the ready check was sent, its reply not yet read */
    bool agent_ready;   /* its reply came while the runtime was still running */
    bool conn_lost;     /* the connection broke before the runtime finished */
    /* generic sandboxes (sandbox.c) */
    bool pooled;       /* started with no function: <dir>/function is a shared mount point */
    bool assigned;     /* given its function (at most once in its life) */
    bool load_pending; /* the load request was sent, its reply not yet read */
    uint32_t limit_mb; /* the memory limit its cgroup has now, 0: none */
    uint64_t assign_ns;
    uint64_t sent_ns;
    struct oci_output *out, *errout; /* the container's stdout / stderr */
    char *wbuf;                      /* unsent part of the request */
    size_t wlen, woff;
    char *rbuf; /* reply being read: 8-byte length + body */
    size_t rcap, rlen;
    struct oci_ct *prev, *next;
    /* agent loops (agent_loops.c, oci.agent_threads): from its first
     * invocation the connection belongs to one agent loop, whose thread
     * alone then touches sock's I/O, rbuf, abuf and the fields below the
     * line, until oci_agent_loop_release gives it back */
    struct oci_agent_loop *aloop; /* NULL: the core loop does the agent I/O */
    struct ilu_mail to_loop, to_core;
    char *abuf; /* the request: header + arguments, written by the core between invocations */
    size_t acap, alen;
    bool released; /* the loop has let go (under the loop's lock) */
    /* ---- the loop's thread (handed over through the mailboxes) ---- */
    struct event *arev, *awev; /* on the loop's base */
    size_t aoff;               /* bytes of abuf sent */
    bool abusy;                /* an invocation is in flight */
    uint64_t a_sent_ns;
    uint64_t a_round_trip_us;
    struct ilu_agent_decoded *a_decoded; /* the reply, decoded on the loop; taken by the core */
    char a_why[200];                     /* why the connection is lost or bad */
    struct oci_ct *a_prev, *a_next;      /* the loop's adopted connections */
};

#define OCI_ORPHANS 64

/* The GPUs containers may be given (gpu_bundle.c, gpu_mps.c); set up by
 * the gpu_devices op. */
struct oci_gpu {
    bool on;                                   /* gpu_devices answered: GPU containers can be made */
    unsigned n;                                /* host GPUs found, in the driver's index order */
    struct ilu_os_gpu_node nodes[ILU_GPU_MAX]; /* their minors and UUIDs */
    char dev_dir[128];                         /* the host's device folder, "/dev"; tests use fake nodes */
    char cdi_dirs[160];                        /* ':'-separated CDI spec folders ("/etc/cdi:/var/run/cdi") */
    char lib_dir[256];                         /* driver libraries mounted at /iluvatar/nvidia/lib, "": none */
    char bin_dir[300];                         /* <lib_dir>/../bin when a folder, at /iluvatar/nvidia/bin */
    struct json_t *cdi;                        /* the nvidia.com/gpu CDI spec in use, NULL: built-in list */
    char cdi_path[PATH_MAX];
    /* MPS (use_standalone_mps) */
    bool mps;                   /* containers are MPS clients */
    bool mps_running;           /* we started the control daemon and have not stopped it */
    char mps_control[PATH_MAX]; /* nvidia-cuda-mps-control */
    char mps_pipe_dir[256];     /* <state>/mps/pipe, at /iluvatar/mps in containers */
    char mps_log_dir[256];      /* <state>/mps/log */
    unsigned mps_thread_pct;    /* CUDA_MPS_ACTIVE_THREAD_PERCENTAGE */
    uint32_t mps_mem_limit_mb;  /* CUDA_MPS_PINNED_DEVICE_MEM_LIMIT, 0: none */
    /* GPU status (gpu_status.c): NVML kept open, else nvidia-smi run in
     * the background at most every OCI_GPU_SMI_PERIOD_US */
    struct ilu_os_gpu_sampler *sampler;
    char smi[PATH_MAX];                          /* nvidia-smi when there is no NVML; "": nothing to measure */
    pid_t smi_pid;                               /* its run in flight, 0: none */
    uint64_t smi_started_us;                     /* monotonic, of its last run; 0: never */
    struct ilu_gpu_sample smi_last[ILU_GPU_MAX]; /* its last answer */
    unsigned smi_n;                              /* GPUs in it */
    bool sample_warned;                          /* a failed sample was logged (once) */
};

/* A function image (images.c): its cache entry once prepared. */
struct oci_image {
    struct oci_backend *ob;
    char ref[512];
    char name[80];         /* cache entry: sha256-<digest of its layers' digests> */
    char rootfs[PATH_MAX]; /* <cache>/<name>/rootfs, the containers' read-only root */
    char workdir[256];     /* the function's folder inside (main.py) */
    char python[256];      /* the image's own interpreter, for the agent */
    struct json_t *env;    /* the image's Env, "K=V" strings */
    bool ready, preparing; /* ready: the last preparation succeeded */
    pid_t pid;             /* of the running preparation */
    char tid[64];          /* of the registration that started it */
    uint64_t started_ns;
    char out_path[PATH_MAX], err_path[PATH_MAX], config_path[PATH_MAX];
    struct oci_image_waiter *waiters;
    struct oci_image *next;
};

struct oci_backend {
    struct ilu_backend base; /* first: b->priv == b */
    struct event_base *evb;
    const struct ilu_log *log;
    struct ilu_reaper *reaper; /* the process's (borrowed): our runtime processes, and its orphans */
    bool orphan_handler;       /* we hold the reaper's orphan handler */
    char runtime_name[8];      /* "crun" / "runc" */
    char runtime_path[PATH_MAX];
    char runtime_root[240]; /* <state>/runtime/<name> */
    char state_dir[224];    /* short enough for every path built on it */
    char containers_dir[240];
    char rootfs_dir[256];
    char python[256];
    char agent_dir[PATH_MAX]; /* host dir mounted at /iluvatar/agent */
    char agent_file[256];     /* its file name */
    char cgroup_parent[64];
    uint32_t pids_limit;
    bool userns; /* map container root to userns_host_id.. */
    uint32_t userns_host_id, userns_size;
    struct json_t *seccomp;    /* linux.seccomp of every config.json, NULL: none */
    char init[256];            /* pid 1 inside (tini), "" : the agent is pid 1 */
    uint32_t log_max_bytes;    /* per stdout/stderr file before rotation */
    uint32_t max_result_bytes; /* told to the agent; replies beyond it are refused */
    uint32_t max_reply_bytes;  /* max_result_bytes + room for the reply's other fields */
    /* Function folders must resolve under one of these (realpath'ed). */
    char fn_roots[8][PATH_MAX];
    unsigned n_fn_roots;
    char fn_roots_text[1024]; /* the same, for messages */
    bool memsw;               /* kernel accounts swap: set memory.swap */
    bool cgroup2;             /* pure cgroup v2: limits in /sys/fs/cgroup/<parent>/<id>/ */
    bool can_pool;            /* the kernel has the new mount API (open_tree, mount_setattr) */
    bool cgroupns;
    struct oci_ct *cts; /* every container, live or tearing down */
    /* function images (images.c) */
    char image_cache_dir[PATH_MAX];
    char image_tool[PATH_MAX];
    char init_static[256]; /* a static tini for image roots, "" : none */
    struct oci_image *images;
    unsigned image_runs;
    uint64_t image_cache_max_bytes; /* 0: no bound */
    /* Pids reaped that matched nothing (yet): a container init can exit
     * before we read its pid file. A small ring is enough. */
    struct {
        pid_t pid;
        int status;
    } orphans[OCI_ORPHANS];
    unsigned orphan_next;
    bool shut_down;
    struct oci_gpu gpu;
    /* agent loops (agent_loops.c) */
    struct oci_agent_loop *aloops;
    unsigned n_aloops, next_aloop;
    struct ilu_mailbox *from_aloops; /* drained by the core loop */
};

/* runtime.c (spawning and reaping are os/spawn.h's) */
int oci_choose_runtime(struct oci_backend *ob, const char *mode, const char *path, struct ilu_error *err);
bool oci_find_binary(const char *name, char *out, size_t len);
/* The reaper's orphan handler (arg: ob): a container init's exit is its
 * container's death; an exit nobody knows yet is kept for oci_orphan_take. */
void oci_on_orphan(void *arg, pid_t pid, int status);
bool oci_orphan_take(struct oci_backend *ob, pid_t pid, int *status);
void oci_describe_status(int status, char *buf, size_t len);
/* The signal that ended the container's agent: the init's own, or the one
 * tini reports as exit status 128 + n; 0 if none. */
int oci_status_signal(const struct oci_backend *ob, int status);
/* `<runtime> --root R delete --force id`, blocking; returns its status. */
int oci_delete_sync(const char *runtime_path, const char *root, const char *id);
/* cleanup.c: what an earlier run left (runtime containers, bundles and their
 * mounts, cgroups), or this run's cgroups; logged under tid, counted in rep
 * (NULL: not counted). Blocking. */
void oci_clean_leftovers(struct oci_backend *ob, const char *tid, struct ilu_clean_report *rep);
void oci_clean_cgroups(struct oci_backend *ob, bool kill_procs, const char *tid, struct ilu_clean_report *rep);

/* output.c: a container's stdout or stderr, read from a pipe into a file
 * capped at log_max_bytes and rotated once (<path>.1), so a chatty or
 * hostile function cannot fill the disk; the file's tail goes into error
 * reports. */
struct oci_output;
/* Make the pipe and open <path>; *write_fd is the end for the container
 * (the caller closes it once the runtime has it). */
struct oci_output *oci_output_new(struct oci_backend *ob, const char *path, int *write_fd, struct ilu_error *err);
/* Copy what the pipe holds now into the file (call before reading the tail). */
void oci_output_drain(struct oci_output *o);
void oci_output_free(struct oci_output *o);

/* seccomp.c: the default profile (namespaces, mounts, keyrings, bpf, ptrace
 * and other host-wide calls fail with EPERM), or one read from a file. */
struct json_t *oci_seccomp_profile(const char *setting, struct ilu_error *err);

/* oci.c: path resolved (symlinks and all) into resolved, which must lie
 * under one of functions_dirs; else a 400 naming image. */
int oci_resolve_in_roots(const struct oci_backend *ob, const char *image, const char *path, char *resolved,
                         struct ilu_error *err);
/* The function folder image (an absolute path) resolved into resolved
 * (PATH_MAX): under functions_dirs, a directory with a readable main.py
 * (world-readable in a user namespace); else a 400. */
int oci_resolve_image(struct oci_backend *ob, const char *image, char *resolved, struct ilu_error *err);

/* images.c: functions registered as OCI images (oci:, oci-archive:,
 * docker-archive:, docker:// references), prepared by tools/images/prepare.sh
 * into a content-addressed cache under oci.image_cache_dir. */
/* Start preparing ref (or join the preparation running); done(arg, err) is
 * called later, err NULL when the image is ready. -1 with a 400 in err when
 * ref is not acceptable (a local path outside functions_dirs). */
int oci_image_prepare(struct oci_backend *ob, const char *ref, const char *tid,
                      void (*done)(void *arg, const struct ilu_error *err), void *arg, struct ilu_error *err);
/* The image record of ref, prepared or not; NULL if never asked for. */
struct oci_image *oci_image_find(const struct oci_backend *ob, const char *ref);
/* The cache dir, the tool and the static init, from the config. */
int oci_images_init(struct oci_backend *ob, const struct ilu_oci_config *oc, struct ilu_error *err);
/* Forget every image (running preparations are no longer watched). */
void oci_images_free(struct oci_backend *ob);
/* The cache's entries and bytes (each entry's size as measured when it was
 * unpacked). */
void oci_images_usage(struct oci_backend *ob, unsigned *entries, uint64_t *bytes);
/* Remove unused entries (no ready image record, no live container on
 * them), least recently used first, until the cache holds at most
 * keep_bytes; returns how many went. Skipped while a preparation holds the
 * cache's lock. */
unsigned oci_images_gc(struct oci_backend *ob, uint64_t keep_bytes, const char *tid);
/* Remove the entry name unless something uses it. */
void oci_images_remove_unused(struct oci_backend *ob, const char *name, const char *tid);

/* bundle.c */
/* mkdir -p: missing parents 0755, path itself mode. 0, or -1 with errno. */
int oci_mkdir_p(const char *path, mode_t mode);
int oci_build_rootfs(struct oci_backend *ob, struct ilu_error *err);
int oci_resolve_agent(struct oci_backend *ob, const char *agent_path, struct ilu_error *err);
/* Create <dir> with sockets/ and config.json for container id. image is the
 * function folder, or NULL with img the function's OCI image (its root and
 * Python), or both NULL: a generic sandbox when pooled (<dir>/function, made
 * a shared mount point here, is its /function, a one-way slave; the agent
 * starts with ILU_POOLED=1), else the probe. args NULL means the agent;
 * otherwise a NULL-terminated argv (the probe). */
/* gpu >= 0: the container gets that GPU (the core's index = the host's
 * index among those found), see oci_gpu_edit_config. */
int oci_write_bundle(struct oci_backend *ob, const char *dir, const char *id, const char *image,
                     const struct oci_image *img, bool pooled, uint32_t memory_mb, uint32_t cpus,
                     const char *const *args, int gpu, struct ilu_error *err);
/* rm -r path, never following a symlink nor crossing into another
 * filesystem (a bind mount of the same filesystem it cannot tell: remove
 * bundles with oci_rm_bundle). */
int oci_rm_tree(const char *path);
/* Unmount everything stacked on <dir>/function (a sandbox's function and
 * its shared mount point); 0 when nothing is mounted there any more. */
int oci_unmount_function(const char *dir);
/* Remove a bundle dir: oci_unmount_function, then oci_rm_tree; refuses (-1)
 * while something is still mounted on <dir>/function, whose files would
 * otherwise be removed too. */
int oci_rm_bundle(const char *dir);
/* Last lines of a text file (at most len-1 bytes), newlines turned into " | ". */
void oci_file_tail(const char *path, char *buf, size_t len);

/* gpu_bundle.c: GPU containers (docs/gpu.md, "Live GPU containers"). */
/* Defaults of ob->gpu that tests may change before oci_gpu_setup: the
 * device folder /dev and the CDI folders /etc/cdi:/var/run/cdi. */
void oci_gpu_defaults(struct oci_backend *ob);
/* Take the GPUs found (nodes: their minors and UUIDs, found->n entries)
 * and want's settings: the driver's library and binary folders, a CDI
 * spec for nvidia.com/gpu if one is found (JSON only), and with
 * use_standalone_mps the MPS control daemon (gpu_mps.c). Blocking, at
 * start. -1 with err when the daemon cannot start. */
int oci_gpu_setup(struct oci_backend *ob, const struct ilu_gpu_resource_config *want, const struct ilu_gpu_found *found,
                  const struct ilu_os_gpu_node *nodes, struct ilu_error *err);
/* Add GPU gpu's devices, their cgroup rules, mounts and environment to a
 * config.json made by build_config (cfg: its root object): the CDI spec's
 * containerEdits for the device when there is one, else /dev/nvidiactl,
 * /dev/nvidia<minor>, /dev/nvidia-uvm, /dev/nvidia-uvm-tools and
 * /dev/nvidia-caps/<each>, stat()ed now, plus the driver folders; then
 * CUDA_VISIBLE_DEVICES and, with MPS, its pipe folder and limits. -1 with
 * err naming what is missing. */
int oci_gpu_edit_config(struct oci_backend *ob, uint32_t gpu, struct json_t *cfg, struct ilu_error *err);
/* Stop the MPS daemon if we started it; forget the CDI spec. */
void oci_gpu_stop(struct oci_backend *ob);
/* gpu_status.c: GPU status (docs/gpu.md "GPU status"). */
/* Choose how GPUs are measured: NVML (from want->driver_lib_dir or the
 * loader's path), else nvidia-smi, else nothing; logs which. */
void oci_gpu_status_setup(struct oci_backend *ob, const struct ilu_gpu_resource_config *want);
/* The gpu_sample op: NVML read now, or nvidia-smi's last answer (starting
 * the next run in the background when due); -1 when there is none. */
int oci_gpu_sample(struct ilu_backend *b, uint32_t index, struct ilu_gpu_sample *out);
/* Close NVML; kill and wait for an nvidia-smi still running. */
void oci_gpu_status_stop(struct oci_backend *ob);
/* gpu_mps.c */
/* Start `nvidia-cuda-mps-control -d` with its pipe and log folders under
 * <state>/mps; -1 with err naming what was looked for or how it failed. */
int oci_mps_start(struct oci_backend *ob, const char *driver_lib_dir, struct ilu_error *err);
/* Send it `quit` (blocking, short). */
void oci_mps_stop(struct oci_backend *ob);

/* agent_client.c */
#define OCI_RBUF_KEEP (1u << 20) /* shrink the read and request buffers back after bigger ones */
/* Bind and listen on <dir>/sockets/sock (a host path the container never
 * sees); returns the listening descriptor to hand to the container. */
int oci_agent_listen(struct oci_ct *ct, struct ilu_error *err);
int oci_agent_start_connect(struct oci_ct *ct, struct ilu_error *err);
/* The connection broke: report the death (waiting briefly for the exit
 * status), or leave it to the runtime's exit while still spawning. */
void oci_agent_connection_lost(struct oci_ct *ct, const char *why);
int oci_agent_send(struct oci_ct *ct, const char *args, size_t len, struct ilu_error *err);
void oci_agent_close(struct oci_ct *ct);
/* Where a reply frame (u64 LE body length | body) stands once the first len
 * bytes of buf have arrived: OCI_FRAME_MORE (read up to *need bytes in all:
 * the 8-byte header first, then the whole frame), OCI_FRAME_WHOLE (*need =
 * len = 8 + body length), or OCI_FRAME_BAD with a sentence in why (a body
 * over max_body, or bytes past the frame). No I/O; buf is read only. */
enum oci_frame { OCI_FRAME_MORE, OCI_FRAME_WHOLE, OCI_FRAME_BAD };
enum oci_frame oci_agent_frame(const char *buf, size_t len, uint32_t max_body, size_t *need, char *why, size_t why_len);

/* Read what has arrived of a frame into ct->rbuf (ct->rlen bytes so far).
 * OCI_READ_WHOLE: a whole frame of *need bytes; OCI_READ_AGAIN: nothing more
 * to read now; OCI_READ_BAD (a frame over the limit, bytes past it, data
 * when none was expected, no memory) and OCI_READ_LOST (EOF, an error):
 * with a sentence in why. The one reader of both the core loop and the
 * agent loops. */
enum oci_read { OCI_READ_WHOLE, OCI_READ_AGAIN, OCI_READ_BAD, OCI_READ_LOST };
enum oci_read oci_agent_read_frame(struct oci_ct *ct, bool expected, size_t *need, char *why, size_t why_len);
/* A malformed reply: warn, drop the connection, report the death. */
void oci_agent_protocol_error(struct oci_ct *ct, const char *why);
/* Hand a decoded reply to the core (ct->rbuf no longer holds it). */
void oci_agent_deliver_decoded(struct oci_ct *ct, struct ilu_agent_decoded *d, uint64_t round_trip_us);

/* agent_loops.c: the agent I/O of warm invocations on threads of their own
 * (oci.agent_threads), so that the core loop only decides and accounts. The
 * core loop still connects, checks readiness and loads sandboxes; the first
 * invocation hands the connection to a loop (round robin); replies come
 * back decoded, through a mailbox the core loop drains, and the core's
 * callbacks run on the core loop as before. */
/* Start n loops (n >= 1). -1 with err (none left running). */
int oci_agent_loops_start(struct oci_backend *ob, unsigned n, struct ilu_error *err);
/* Stop and join the loops; every connection is the core's again (nobody
 * watches it: for shutdown). */
void oci_agent_loops_stop(struct oci_backend *ob);
/* Send an invocation's arguments through ct's loop (adopting ct first);
 * the reply reaches the core's invoke_done later, on the core loop. */
int oci_agent_loop_invoke(struct oci_ct *ct, const char *args, size_t len, struct ilu_error *err);
/* Take ct's connection back from its loop (waits for the loop to let go,
 * microseconds) and forget what it has sent the core loop about ct. */
void oci_agent_loop_release(struct oci_ct *ct);

/* Ask the agent of a ready generic sandbox to import its function (command
 * 2); its reply goes to oci_sandbox_loaded. */
int oci_agent_load(struct oci_ct *ct, struct ilu_error *err);

/* sandbox.c: generic sandboxes given their function (backend.h assign). */
/* The assign op for ct (a ready sandbox whose c now points at its
 * function): limits, then the folder at /function, then the load request;
 * -1 with err when any of it cannot be done now. */
int oci_sandbox_assign(struct oci_backend *ob, struct oci_ct *ct, const char *tid, struct ilu_error *err);
/* The agent's reply to the load request (body: len bytes of JSON): report
 * ready, or the failure, to the core. */
void oci_sandbox_loaded(struct oci_ct *ct, const char *body, size_t len);
/* Whether the kernel has what assign needs (open_tree, mount_setattr,
 * move_mount). */
bool oci_sandbox_supported(void);
/* The load reply decoded: 0 when {"loaded": true}; else -1 with the agent's
 * load_error (or why the reply is not understood) in why. No I/O. */
int oci_load_reply_parse(const char *body, size_t len, char *why, size_t why_len);

/* One write that sets a container's cgroup limit: value into file, in the
 * controller's v1 hierarchy ("memory", "cpu") or, controller "", the
 * container's one cgroup v2 dir. */
struct oci_cg_write {
    const char *controller;
    const char *file;
    char value[40];
};
#define OCI_CG_WRITES_MAX 6
/* The writes (at most OCI_CG_WRITES_MAX, into out; returns how many) that
 * give a running container the limits build_resources gives a fresh one
 * with memory_mb and cpus (0: none), in an order the kernel accepts with
 * its memory limit now old_mb (0: none): v1 keeps memory+swap >= memory at
 * every step. memsw: swap is accounted (memory+swap = memory). No I/O. */
size_t oci_cgroup_plan(bool v2, bool memsw, uint32_t old_mb, uint32_t memory_mb, uint32_t cpus,
                       struct oci_cg_write *out);

/* oci.c: the last lines of the container's stderr.log (drained from its
 * pipe first), newlines as " | ", for error reports. */
void oci_ct_stderr_tail(struct oci_ct *ct, char *buf, size_t len);
/* oci.c: the container's agent or process is gone; tell the core once. */
void oci_ct_dead(struct oci_ct *ct, const char *reason);
/* The agent connected: report ready. */
void oci_ct_connected(struct oci_ct *ct);

#endif
