/* cmdline: the table-driven command line shared by the programs that take a
 * command (iluvatar_worker_cli) or a mode (iluvatar_load_gen) with options
 * before or after it. A program keeps its tables (options, commands) and its
 * handlers; this module builds getopt_long from the tables, finds the command,
 * checks each option against the commands that take it and prints option
 * lists for the help. It keeps no state: every call gets the tables. */
#ifndef ILU_PROG_CMDLINE_H
#define ILU_PROG_CMDLINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define ILU_CMDLINE_MAX_OPTS 64 /* one bit each in a uint64_t set */
#define ILU_CMDLINE_BIT(id)  (UINT64_C(1) << (id))

/* One option: --name, -short_name (0: none), arg the value's placeholder
 * (NULL: a flag without a value), help one line. */
struct ilu_cmdline_opt {
    const char *name;
    char short_name;
    const char *arg;
    const char *help;
};

/* A program's command line: its tables, borrowed for the program's life. The
 * commands (or modes) are the program's own array of rows: each row holds its
 * name (a const char *) and the options it takes (a uint64_t of
 * ILU_CMDLINE_BIT(id), beyond the global ones) at the offsets given here, and
 * whatever else the program needs (summary, handler). */
struct ilu_cmdline_spec {
    const char *noun;                   /* what an option is called in messages: "a flag", "an option" */
    const struct ilu_cmdline_opt *opts; /* indexed by the program's option ids */
    size_t n_opts;                      /* at most ILU_CMDLINE_MAX_OPTS */
    uint64_t global_opts;               /* taken with every command, before or after it */
    const void *cmds;                   /* n_cmds rows of cmd_size bytes */
    size_t n_cmds, cmd_size;
    size_t name_at, opts_at; /* offsetof a row's name and option set */
};

/* What one pass over argv found. */
struct ilu_cmdline_parsed {
    const char *name;    /* the first argument that is not an option (the command), NULL: none */
    int cmd;             /* its index in spec->cmds, -1 when none or unknown */
    const char *extra;   /* the argument after it, NULL: none */
    int error;           /* the first getopt error: 0 none, '?' unknown option, ':' option without its value */
    char error_opt[128]; /* that option as written: "--name", "-x" or the argument itself */
};

/* Called with each option and its value ("" for a flag) in argv order, until
 * the first getopt error; a nonzero return ends the parse with that value. */
typedef int (*ilu_cmdline_on_value)(void *arg, int id, const char *value);

/* The row of the command called name, as an index into spec->cmds; -1 if none. */
int ilu_cmdline_find(const struct ilu_cmdline_spec *spec, const char *name);

/* One getopt_long pass over argv, options on either side of the command (GNU
 * getopt permutes): val[id] gets each option's last value ("" for a flag; val
 * has spec->n_opts entries, left NULL for an absent option) and *out what else
 * was found. getopt errors are recorded in *out, not printed, and the pass goes
 * on so that the command and --help are still known. Returns 0, or the nonzero
 * that on_value (may be NULL) returned. */
int ilu_cmdline_parse(const struct ilu_cmdline_spec *spec, int argc, char **argv, const char **val,
                      ilu_cmdline_on_value on_value, void *arg, struct ilu_cmdline_parsed *out);

/* The first option given in val that command cmd does not take (nor is
 * global), or -1; why gets "--x is not NOUN of CMD (A and B takes it)". */
int ilu_cmdline_stray_opt(const struct ilu_cmdline_spec *spec, size_t cmd, const char *const *val, char *why,
                          size_t why_len);

/* The options in set, one a line: indent spaces, "-x, --name ARG" padded to
 * width, then the help; a longer left part puts the help on the next line. */
void ilu_cmdline_print_opts(FILE *out, const struct ilu_cmdline_spec *spec, uint64_t set, int indent, int width);

#endif
