/* The seccomp filter every container gets (linux.seccomp of config.json).
 *
 * The default allows everything except the calls a function never needs and
 * that widen its reach beyond the sandbox: new namespaces (a user namespace
 * would hand it a full capability set over its own mounts), mounting,
 * keyrings, bpf, ptrace-style access to other processes, kernel modules,
 * clocks and reboot: the deny list of the runtimes' default profiles (runc's
 * and Docker's), written as a deny list because an allow list must track
 * every new syscall Python's libraries may use. The calls fail with EPERM,
 * as they would for an unprivileged process; clone3 fails with ENOSYS so
 * libc falls back to clone, whose namespace flags the filter can see. */
#include "oci_int.h"

#include <errno.h>
#include <jansson.h>
#include <string.h>

static const char *const denied[] = {
    /* namespaces and mounts */
    "unshare",
    "setns",
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    /* keyrings, bpf, perf, userfaultfd */
    "add_key",
    "request_key",
    "keyctl",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    /* other processes' memory and handles */
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    "pidfd_getfd",
    "open_by_handle_at",
    "name_to_handle_at",
    /* the kernel and the machine */
    "init_module",
    "finit_module",
    "delete_module",
    "kexec_load",
    "kexec_file_load",
    "reboot",
    "swapon",
    "swapoff",
    "syslog",
    "acct",
    "quotactl",
    "quotactl_fd",
    "lookup_dcookie",
    "iopl",
    "ioperm",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "adjtimex",
    "stime",
    "nfsservctl",
    "vhangup",
    "uselib",
    "_sysctl",
    "sysfs",
    "ustat",
    "get_kernel_syms",
    "query_module",
    "create_module",
    "fanotify_init",
};

/* clone flags that make a new namespace (clone's first argument on every
 * architecture the filter lists below). */
static const unsigned long ns_flags[] = {
    0x00020000, /* CLONE_NEWNS */
    0x02000000, /* CLONE_NEWCGROUP */
    0x04000000, /* CLONE_NEWUTS */
    0x08000000, /* CLONE_NEWIPC */
    0x10000000, /* CLONE_NEWUSER */
    0x20000000, /* CLONE_NEWPID */
    0x40000000, /* CLONE_NEWNET */
};

static json_t *architectures(void)
{
#if defined(__x86_64__)
    return json_pack("[s, s, s]", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32");
#elif defined(__aarch64__)
    return json_pack("[s, s]", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM");
#else
    return json_array(); /* the native architecture only */
#endif
}

static json_t *default_profile(void)
{
    json_t *names = json_array();
    for (size_t i = 0; i < sizeof denied / sizeof denied[0]; i++)
        json_array_append_new(names, json_string(denied[i]));
    json_t *rules = json_array();
    json_array_append_new(rules,
                          json_pack("{s:o, s:s, s:i}", "names", names, "action", "SCMP_ACT_ERRNO", "errnoRet", EPERM));
    json_array_append_new(
        rules, json_pack("{s:[s], s:s, s:i}", "names", "clone3", "action", "SCMP_ACT_ERRNO", "errnoRet", ENOSYS));
    for (size_t i = 0; i < sizeof ns_flags / sizeof ns_flags[0]; i++)
        json_array_append_new(rules, json_pack("{s:[s], s:s, s:i, s:[{s:i, s:I, s:I, s:s}]}", "names", "clone",
                                               "action", "SCMP_ACT_ERRNO", "errnoRet", EPERM, "args", "index", 0,
                                               "value", (json_int_t)ns_flags[i], "valueTwo", (json_int_t)ns_flags[i],
                                               "op", "SCMP_CMP_MASKED_EQ"));
    return json_pack("{s:s, s:o, s:o}", "defaultAction", "SCMP_ACT_ALLOW", "architectures", architectures(), "syscalls",
                     rules);
}

json_t *oci_seccomp_profile(const char *setting, struct ilu_error *err)
{
    if (!setting || !*setting || !strcmp(setting, "default"))
        return default_profile();
    if (!strcmp(setting, "off"))
        return NULL;
    if (setting[0] != '/') {
        ilu_err(err, ILU_ST_INTERNAL, "config", "oci.seccomp \"%s\" is not default, off or an absolute path", setting);
        return NULL;
    }
    json_error_t je;
    json_t *p = json_load_file(setting, JSON_REJECT_DUPLICATES, &je);
    if (!p) {
        ilu_err(err, ILU_ST_INTERNAL, "config", "oci.seccomp %s: line %d: %s", setting, je.line, je.text);
        return NULL;
    }
    if (!json_is_object(p) || !json_is_string(json_object_get(p, "defaultAction"))) {
        json_decref(p);
        ilu_err(err, ILU_ST_INTERNAL, "config", "oci.seccomp %s is not an OCI linux.seccomp object (no defaultAction)",
                setting);
        return NULL;
    }
    return p;
}
