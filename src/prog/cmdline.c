/* The table-driven command line of the programs in src/prog (cmdline.h). */
#include "prog/cmdline.h"

#include <getopt.h>
#include <string.h>

/* Command i's name and option set, where the spec says its rows keep them. */
static const char *cmd_name(const struct ilu_cmdline_spec *spec, size_t i)
{
    return *(const char *const *)((const char *)spec->cmds + i * spec->cmd_size + spec->name_at);
}

static uint64_t cmd_opts(const struct ilu_cmdline_spec *spec, size_t i)
{
    return *(const uint64_t *)((const char *)spec->cmds + i * spec->cmd_size + spec->opts_at);
}

int ilu_cmdline_find(const struct ilu_cmdline_spec *spec, const char *name)
{
    for (size_t c = 0; c < spec->n_cmds; c++)
        if (!strcmp(cmd_name(spec, c), name))
            return (int)c;
    return -1;
}

int ilu_cmdline_parse(const struct ilu_cmdline_spec *spec, int argc, char **argv, const char **val,
                      ilu_cmdline_on_value on_value, void *arg, struct ilu_cmdline_parsed *out)
{
    /* getopt_long's val of option id is 256 + id, above every short option */
    struct option longs[ILU_CMDLINE_MAX_OPTS + 1];
    char shorts[2 * ILU_CMDLINE_MAX_OPTS + 2];
    size_t ns = 0, n = spec->n_opts < ILU_CMDLINE_MAX_OPTS ? spec->n_opts : ILU_CMDLINE_MAX_OPTS;
    const struct ilu_cmdline_opt *opts = spec->opts;
    shorts[ns++] = ':'; /* a missing value is reported as ':' */
    for (size_t id = 0; id < n; id++) {
        longs[id] = (struct option){opts[id].name, opts[id].arg ? required_argument : no_argument, NULL, 256 + (int)id};
        if (opts[id].short_name) {
            shorts[ns++] = opts[id].short_name;
            if (opts[id].arg)
                shorts[ns++] = ':';
        }
    }
    longs[n] = (struct option){0};
    shorts[ns] = 0;
    *out = (struct ilu_cmdline_parsed){.cmd = -1};
    opterr = 0; /* the caller reports errors, with its usage */
    int c;
    while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
        int id = -1;
        if (c >= 256) {
            id = c - 256;
        } else if (c == '?' || c == ':') {
            /* the first one is reported; optopt: the short option, or a long
             * one's val (0 when unknown) */
            if (!out->error) {
                out->error = c;
                if (optopt >= 256)
                    snprintf(out->error_opt, sizeof out->error_opt, "--%s", opts[optopt - 256].name);
                else if (optopt)
                    snprintf(out->error_opt, sizeof out->error_opt, "-%c", optopt);
                else
                    snprintf(out->error_opt, sizeof out->error_opt, "%s", argv[optind - 1]);
            }
            continue;
        } else {
            for (size_t k = 0; k < n; k++)
                if (opts[k].short_name == c)
                    id = (int)k;
        }
        if (id < 0)
            continue;
        val[id] = optarg ? optarg : "";
        int rc = on_value && !out->error ? on_value(arg, id, val[id]) : 0;
        if (rc)
            return rc;
    }
    out->name = optind < argc ? argv[optind] : NULL;
    out->cmd = out->name ? ilu_cmdline_find(spec, out->name) : -1;
    out->extra = optind + 1 < argc ? argv[optind + 1] : NULL;
    return 0;
}

/* The commands that take option id, as "trace" or "invoke and invoke-async". */
static void cmds_taking(const struct ilu_cmdline_spec *spec, int id, char *out, size_t n)
{
    size_t len = 0, k = 0, total = 0;
    for (size_t c = 0; c < spec->n_cmds; c++)
        total += !!(cmd_opts(spec, c) & ILU_CMDLINE_BIT(id));
    out[0] = 0;
    for (size_t c = 0; c < spec->n_cmds && len < n; c++)
        if (cmd_opts(spec, c) & ILU_CMDLINE_BIT(id)) {
            k++;
            len += (size_t)snprintf(out + len, n - len, "%s%s",
                                    k == 1       ? ""
                                    : k == total ? " and "
                                                 : ", ",
                                    cmd_name(spec, c));
        }
}

int ilu_cmdline_stray_opt(const struct ilu_cmdline_spec *spec, size_t cmd, const char *const *val, char *why,
                          size_t why_len)
{
    uint64_t taken = spec->global_opts | cmd_opts(spec, cmd);
    for (size_t id = 0; id < spec->n_opts; id++)
        if (val[id] && !(ILU_CMDLINE_BIT(id) & taken)) {
            char takers[160];
            cmds_taking(spec, (int)id, takers, sizeof takers);
            snprintf(why, why_len, "--%s is not %s of %s (%s takes it)", spec->opts[id].name, spec->noun,
                     cmd_name(spec, cmd), takers);
            return (int)id;
        }
    return -1;
}

void ilu_cmdline_print_opts(FILE *out, const struct ilu_cmdline_spec *spec, uint64_t set, int indent, int width)
{
    for (size_t id = 0; id < spec->n_opts; id++) {
        if (!(set & ILU_CMDLINE_BIT(id)))
            continue;
        const struct ilu_cmdline_opt *op = &spec->opts[id];
        char left[96], shrt[8] = "";
        if (op->short_name)
            snprintf(shrt, sizeof shrt, "-%c, ", op->short_name);
        snprintf(left, sizeof left, "%s--%s%s%s", shrt, op->name, op->arg ? " " : "", op->arg ? op->arg : "");
        if (strlen(left) > (size_t)width) /* a long placeholder: the help on the next line */
            fprintf(out, "%*s%s\n%*s%-*s %s\n", indent, "", left, indent, "", width, "", op->help);
        else
            fprintf(out, "%*s%-*s %s\n", indent, "", width, left, op->help);
    }
}
