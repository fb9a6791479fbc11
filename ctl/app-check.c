/* emberctl new: the app against the backend unit it is about to get. The executable, the working directory and every
 * argument naming an existing absolute path are looked at through the unit's own text (as rendered, then the app's
 * drop-ins): what ProtectHome=, PrivateTmp=, ProtectSystem=, ReadWritePaths= and their kin make of each, and whether
 * the backend's user may reach it. What cannot work refuses (64); what may not, warns; a read-only directory is a
 * note. The settings come from the unit text, never from a copy of the templates; only what systemd does with each
 * setting (systemd.exec(5)) is spelled here. Where ember-sandbox confines the files with Landlock instead, its rules
 * come from the one table the sandbox builds its ruleset from (common/landlock.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ctl.h"
#include "landlock.h"
#include "log.h"
#include "macro.h"
#include "new.h"
#include "template.h"
#include "user.h"

#define RULES_MAX 256
#define GROUPS_MAX 64

typedef enum seen { SEEN_RW, SEEN_RO, SEEN_HIDDEN } seen;

/* A path prefix and what the unit does to everything under it, with the setting that says so. */
typedef struct rule {
        char path[1024];
        seen how;
        bool below; /* only what is below PATH: PrivateTmp= gives an empty /tmp, which exists */
        bool grantable; /* Landlock's hidden trees: a rule beneath one grants what it says there */
        char setting[64];
} rule;

/* The backend unit's file system settings, as systemd would end up with them after all files are read. */
typedef struct unit_view {
        char protect_home[16], protect_system[16], private_tmp[16], dynamic_user[16];
        char *rw[RULES_MAX], *ro[RULES_MAX], *hidden[RULES_MAX], *state[RULES_MAX];
        size_t n_rw, n_ro, n_hidden, n_state;
        rule rules[RULES_MAX];
        size_t n_rules;
} unit_view;

static void list_reset(char **l, size_t *n) {
        for (size_t i = 0; i < *n; i++)
                free(l[i]);
        *n = 0;
}

static void unit_view_done(unit_view *v) {
        list_reset(v->rw, &v->n_rw);
        list_reset(v->ro, &v->n_ro);
        list_reset(v->hidden, &v->n_hidden);
        list_reset(v->state, &v->n_state);
}

/* A list setting: paths separated by whitespace, each perhaps prefixed "-" (may be missing) or "+"; "%%" is "%". An
 * empty assignment resets the list, as in systemd. */
static void list_add(char **l, size_t *n, const char *value) {
        char copy[4096], *save = NULL;

        if (!*value) {
                list_reset(l, n);
                return;
        }
        snprintf(copy, sizeof(copy), "%s", value);
        for (char *w = strtok_r(copy, " \t", &save); w && *n < RULES_MAX; w = strtok_r(NULL, " \t", &save)) {
                char *p;

                w += strspn(w, "-+");
                if (!(p = strdup(w)))
                        continue;
                for (char *s = p, *d = p; (*d = *s); s += s[0] == '%' && s[1] == '%' ? 2 : 1, d++)
                        ;
                l[(*n)++] = p;
        }
}

static void set_value(char *dst, size_t size, const char *value) {
        snprintf(dst, size, "%s", value);
}

/* One line of a unit file, in [Service]. */
static void view_setting(unit_view *v, const char *key, const char *value) {
        if (strcmp(key, "ProtectHome") == 0)
                set_value(v->protect_home, sizeof(v->protect_home), value);
        else if (strcmp(key, "ProtectSystem") == 0)
                set_value(v->protect_system, sizeof(v->protect_system), value);
        else if (strcmp(key, "PrivateTmp") == 0)
                set_value(v->private_tmp, sizeof(v->private_tmp), value);
        else if (strcmp(key, "DynamicUser") == 0)
                set_value(v->dynamic_user, sizeof(v->dynamic_user), value);
        else if (strcmp(key, "ReadWritePaths") == 0)
                list_add(v->rw, &v->n_rw, value);
        else if (strcmp(key, "ReadOnlyPaths") == 0)
                list_add(v->ro, &v->n_ro, value);
        else if (strcmp(key, "InaccessiblePaths") == 0)
                list_add(v->hidden, &v->n_hidden, value);
        else if (strcmp(key, "StateDirectory") == 0)
                list_add(v->state, &v->n_state, value);
}

static char *strip(char *s) {
        char *e;

        s += strspn(s, " \t");
        e = s + strlen(s);
        while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
                *--e = '\0';
        return s;
}

static void view_read_text(unit_view *v, const char *text) {
        bool service = false;

        for (const char *l = text; *l;) {
                size_t n = strcspn(l, "\n");
                char line[4096], *s, *eq;

                snprintf(line, sizeof(line), "%.*s", (int) (n < sizeof(line) ? n : sizeof(line) - 1), l);
                l += n + (l[n] == '\n');
                s = strip(line);
                if (*s == '[')
                        service = strcmp(s, "[Service]") == 0;
                else if (service && *s != '#' && *s != ';' && (eq = strchr(s, '='))) {
                        *eq = '\0';
                        view_setting(v, strip(s), strip(eq + 1));
                }
        }
}

static int cmp_names(const void *a, const void *b) {
        return strcmp(*(char *const *) a, *(char *const *) b);
}

/* The app's drop-ins (UNIT_DIR/NAME-backend.service.d/ *.conf, by name, as systemd orders them): a drop-in that
 * relaxes the sandbox for the app is what the messages below advise, and must then be seen. */
static void view_read_dropins(unit_view *v, const char *unit_dir, const char *app) {
        char dir[PATH_MAX], *names[64];
        size_t n = 0;
        struct dirent *de;
        _cleanup_close_ int dfd = -1;
        DIR *d;

        snprintf(dir, sizeof(dir), "%s/%s-backend.service.d", unit_dir, app);
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return;
        d = fdopendir(fcntl(dfd, F_DUPFD_CLOEXEC, 3));
        if (!d)
                return;
        while ((de = readdir(d)) && n < ELEMENTSOF(names)) {
                size_t len = strlen(de->d_name);
                if (len > 5 && strcmp(de->d_name + len - 5, ".conf") == 0 && (names[n] = strdup(de->d_name)))
                        n++;
        }
        closedir(d);
        qsort(names, n, sizeof(*names), cmp_names);
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *text = NULL;
                if (read_file_at(dfd, names[i], &text) >= 0)
                        view_read_text(v, text);
                free(names[i]);
        }
}

static bool yes(const char *v) {
        return strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 || strcmp(v, "on") == 0 || strcmp(v, "1") == 0;
}

/* PATH and everything under it, as KEY=VALUE says. */
static void add_rule(unit_view *v, const char *path, seen how, const char *key, const char *value) {
        rule *r;

        if (v->n_rules >= RULES_MAX || strlen(path) >= sizeof(r->path))
                return;
        r = &v->rules[v->n_rules++];
        snprintf(r->path, sizeof(r->path), "%s", path);
        r->how = how;
        snprintf(r->setting, sizeof(r->setting), "%s%s%s", key, *value ? "=" : "", value);
}

/* systemd.exec(5), for the settings the view holds. DynamicUser= implies ProtectSystem=strict, ProtectHome=read-only
 * and PrivateTmp=yes where the unit does not say otherwise. */
static void view_rules(unit_view *v) {
        static const char *const home[] = { "/home", "/root", "/run/user" };
        static const char *const sys_full[] = { "/usr", "/boot", "/efi", "/etc" };
        bool dynamic = yes(v->dynamic_user);
        const char *ph = v->protect_home[0] ? v->protect_home : dynamic ? "read-only" : "no";
        const char *ps = v->protect_system[0] ? v->protect_system : dynamic ? "strict" : "no";
        const char *pt = v->private_tmp[0] ? v->private_tmp : dynamic ? "yes" : "no";

        if (strcmp(ps, "strict") == 0)
                add_rule(v, "/", SEEN_RO, "ProtectSystem", ps);
        else if (strcmp(ps, "full") == 0 || yes(ps))
                for (size_t i = 0; i < (strcmp(ps, "full") == 0 ? 4 : 3); i++)
                        add_rule(v, sys_full[i], SEEN_RO, "ProtectSystem", ps);
        if (yes(ph) || strcmp(ph, "tmpfs") == 0 || strcmp(ph, "read-only") == 0)
                for (size_t i = 0; i < ELEMENTSOF(home); i++)
                        add_rule(v, home[i], strcmp(ph, "read-only") == 0 ? SEEN_RO : SEEN_HIDDEN, "ProtectHome", ph);
        if (yes(pt)) {
                add_rule(v, "/tmp", SEEN_HIDDEN, "PrivateTmp", pt);
                add_rule(v, "/var/tmp", SEEN_HIDDEN, "PrivateTmp", pt);
                v->rules[v->n_rules - 1].below = v->rules[v->n_rules - 2].below = true;
        }
        for (size_t i = 0; i < v->n_hidden; i++)
                add_rule(v, v->hidden[i], SEEN_HIDDEN, "InaccessiblePaths", v->hidden[i]);
        for (size_t i = 0; i < v->n_ro; i++)
                add_rule(v, v->ro[i], SEEN_RO, "ReadOnlyPaths", v->ro[i]);
        for (size_t i = 0; i < v->n_rw; i++)
                add_rule(v, v->rw[i], SEEN_RW, "ReadWritePaths", v->rw[i]);
        for (size_t i = 0; i < v->n_state; i++) {
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "/var/lib/%s", v->state[i]);
                add_rule(v, p, SEEN_RW, "StateDirectory", v->state[i]);
        }
}

#define LANDLOCK_SETTING "ember-sandbox --landlock"

/* ember-sandbox --landlock (confine/files.c): everything readable but the hidden trees, writable the scratch ones and
 * what the app was given (--rw-path=, its state directory, a unix backend's directory). */
static void landlock_rules(unit_view *v, const app_sandbox *sb) {
        static const char *const hidden[] = LANDLOCK_HIDDEN_PATHS, *const scratch[] = LANDLOCK_SCRATCH_PATHS;

        add_rule(v, "/", SEEN_RO, LANDLOCK_SETTING, "");
        for (size_t i = 0; i < ELEMENTSOF(hidden); i++) {
                add_rule(v, hidden[i], SEEN_HIDDEN, LANDLOCK_SETTING, "");
                v->rules[v->n_rules - 1].grantable = true;
        }
        for (size_t i = 0; i < ELEMENTSOF(scratch); i++)
                add_rule(v, scratch[i], SEEN_RW, LANDLOCK_SETTING, "");
        for (size_t i = 0; i < sb->n_writable; i++)
                add_rule(v, sb->writable[i], SEEN_RW, "ember-sandbox --rw-path", sb->writable[i]);
}

static bool under(const char *path, const char *prefix) {
        size_t n = strlen(prefix);

        if (n == 1 && prefix[0] == '/')
                return true;
        return strncmp(path, prefix, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* What the backend sees of PATH: hidden if any of systemd's hiding rules covers it (nothing nested in an inaccessible
 * or private tree brings it back, systemd.exec(5)); otherwise the longest prefix decides, as it does for Landlock's
 * (a rule beneath a hidden tree grants there). */
static const rule *view_path(const unit_view *v, const char *path) {
        const rule *best = NULL;

        for (size_t i = 0; i < v->n_rules; i++) {
                const rule *r = &v->rules[i];
                if (!under(path, r->path) || (r->below && strcmp(path, r->path) == 0))
                        continue;
                if (r->how == SEEN_HIDDEN && !r->grantable)
                        return r;
                if (!best || strlen(r->path) >= strlen(best->path))
                        best = r;
        }
        return best;
}

/* Who the backend runs as, for the permission bits: root passes everything; a user systemd allocates for each run
 * owns nothing outside its state directory, so only the bits for others count. */
typedef struct backend_user {
        bool root, dynamic;
        uid_t uid;
        gid_t groups[GROUPS_MAX];
        int n_groups;
        char name[64];
} backend_user;

static void backend_user_of(const app_sandbox *sb, backend_user *u) {
        struct passwd *pw = sb->dynamic_user ? NULL : user_lookup(sb->user);

        *u = (backend_user){ .dynamic = sb->dynamic_user, .uid = (uid_t) -1 };
        snprintf(u->name, sizeof(u->name), "%s", sb->user);
        if (!pw)
                return;
        u->root = pw->pw_uid == 0;
        u->uid = pw->pw_uid;
        u->n_groups = GROUPS_MAX;
        if (getgrouplist(pw->pw_name, pw->pw_gid, u->groups, &u->n_groups) < 0)
                u->n_groups = 0;
}

static bool in_groups(const backend_user *u, gid_t g) {
        for (int i = 0; i < u->n_groups; i++)
                if (u->groups[i] == g)
                        return true;
        return false;
}

/* The permission bits of ST grant WANT (4 read, 2 write, 1 search or execute) to U. */
static bool bits_allow(const backend_user *u, const struct stat *st, unsigned want) {
        unsigned bits = st->st_uid == u->uid ? st->st_mode >> 6 : in_groups(u, st->st_gid) ? st->st_mode >> 3 : st->st_mode;

        return u->root || (bits & want) == want;
}

/* The first directory on the way to PATH that U may not search, or PATH itself if U may not WANT it: its path in
 * BLOCKER, or "" if U may. */
static void user_blocked_at(const backend_user *u, const char *path, unsigned want, char *blocker, size_t size) {
        char walk[PATH_MAX];
        struct stat st;

        blocker[0] = '\0';
        if (u->root)
                return;
        for (const char *c = path; (c = strchr(c + 1, '/'));) {
                snprintf(walk, sizeof(walk), "%.*s", (int) (c - path), path);
                if (stat(walk, &st) == 0 && !bits_allow(u, &st, 1)) {
                        snprintf(blocker, size, "%s", walk);
                        return;
                }
        }
        if (stat(path, &st) == 0 && !bits_allow(u, &st, want))
                snprintf(blocker, size, "%s", path);
}

typedef enum path_role { WHAT_EXECUTABLE, WHAT_WORKING_DIRECTORY, WHAT_ARGUMENT } path_role;

typedef struct check_ctx {
        const new_args *a;
        const unit_view *view;
        backend_user user;
        bool refused;
} check_ctx;

/* What SETTING does, and how the app could see the path anyway, for one sentence each. */
static void hidden_advice(const check_ctx *x, const char *setting, char *what, size_t wsize, char *fix, size_t fsize) {
        if (strcmp(setting, LANDLOCK_SETTING) == 0) {
                snprintf(what, wsize, "no /home, /root or /run/user, with Landlock");
                snprintf(fix, fsize, "Move it out of them (to /opt or /srv); --rw-path=DIR would open DIR to it, to read "
                         "and to write");
        } else if (strncmp(setting, "ProtectHome=", 12) == 0) {
                snprintf(what, wsize, "no /home, /root or /run/user");
                snprintf(fix, fsize, "Move it out of them (to /opt or /srv), or set ProtectHome=read-only in a drop-in, "
                         "%s/%s-backend.service.d/home.conf (no emberctl new option changes it)", x->a->unit_dir,
                         x->a->name);
        } else if (strncmp(setting, "PrivateTmp=", 11) == 0) {
                snprintf(what, wsize, "a /tmp and /var/tmp of its own, empty");
                snprintf(fix, fsize, "Move it out of them (to /opt or /srv)");
        } else {
                snprintf(what, wsize, "a drop-in says so");
                snprintf(fix, fsize, "Remove that setting from the drop-in");
        }
}

static void describe(path_role w, int argn, char *out, size_t size) {
        if (w == WHAT_EXECUTABLE)
                snprintf(out, size, "the executable");
        else if (w == WHAT_WORKING_DIRECTORY)
                snprintf(out, size, "--working-directory");
        else
                snprintf(out, size, "argument %d", argn);
}

static void check_hidden(check_ctx *x, path_role w, int argn, const char *path, const rule *r) {
        char who[64], how[128], fix[PATH_MAX + 256];
        bool fatal = w != WHAT_ARGUMENT;

        describe(w, argn, who, sizeof(who));
        hidden_advice(x, r->setting, how, sizeof(how), fix, sizeof(fix));
        if (fatal)
                log_error("the backend of '%s' cannot start: %s (%s) is hidden from it by %s (in %s-backend.service: "
                          "%s). %s, then run emberctl new again.", x->a->name, path, who, r->setting, x->a->name, how,
                          fix);
        else
                fprintf(stderr, "Warning: %s (%s) is hidden from the backend by %s (in %s-backend.service: %s): the "
                        "app will not find it. %s.\n", path, who, r->setting, x->a->name, how, fix);
        x->refused |= fatal;
}

static void check_permissions(check_ctx *x, path_role w, int argn, const char *path, const struct stat *st) {
        unsigned want = w == WHAT_EXECUTABLE ? 1 : S_ISDIR(st->st_mode) ? 5 : 4;
        char blocker[PATH_MAX], who[64];
        struct stat bst;
        bool fatal = w == WHAT_EXECUTABLE;

        /* the working directory is entered before the supervisor drops the backend's user */
        if (w == WHAT_WORKING_DIRECTORY)
                return;
        user_blocked_at(&x->user, path, want, blocker, sizeof(blocker));
        if (!blocker[0] || stat(blocker, &bst) < 0)
                return;
        describe(w, argn, who, sizeof(who));
        if (fatal)
                log_error("the backend of '%s' cannot start: its user %s%s may not %s %s (%s; %s is mode %04o, owned by "
                          "uid %u). Run it as a user who may (--user=USER), or change the mode.", x->a->name,
                          x->user.name, x->user.dynamic ? " (allocated by systemd for each run)" : "",
                          strcmp(blocker, path) == 0 ? "execute" : "reach", path, who, blocker,
                          (unsigned) (bst.st_mode & 07777), (unsigned) bst.st_uid);
        else
                fprintf(stderr, "Warning: %s (%s) is out of reach of the backend's user %s%s (%s is mode %04o, owned by "
                        "uid %u): the app will not read it. Run it as a user who may (--user=USER), or change the "
                        "mode.\n", path, who, x->user.name, x->user.dynamic ? " (allocated by systemd for each run)" : "",
                        blocker, (unsigned) (bst.st_mode & 07777), (unsigned) bst.st_uid);
        x->refused |= fatal;
}

/* A directory the app is pointed at but may not write: fine for what it only reads, which the unit cannot know. */
static void note_read_only(check_ctx *x, path_role w, int argn, const char *path, const rule *r) {
        char who[64];

        describe(w, argn, who, sizeof(who));
        printf("Note: %s (%s) is read-only to the backend (%s in %s-backend.service): if the app writes there, add "
               "--rw-path=%s, or let it write in $STATE_DIRECTORY.\n", path, who, r->setting, x->a->name, path);
}

/* One path the app is given. Paths of the kernel's file systems (/dev, /proc, /sys) are the unit's business. */
static void check_path(check_ctx *x, path_role w, int argn, const char *given) {
        _cleanup_free_ char *path = realpath(given, NULL);
        const rule *r;
        struct stat st;

        if (!path || stat(path, &st) < 0 || under(path, "/dev") || under(path, "/proc") || under(path, "/sys"))
                return;
        r = view_path(x->view, path);
        if (r && r->how == SEEN_HIDDEN) {
                check_hidden(x, w, argn, path, r);
                return;
        }
        check_permissions(x, w, argn, path, &st);
        if (r && r->how == SEEN_RO && S_ISDIR(st.st_mode) && w != WHAT_EXECUTABLE)
                note_read_only(x, w, argn, path, r);
}

/* An argument that names an absolute path: "/x", or the value of "--opt=/x". */
static const char *argument_path(const char *arg) {
        const char *eq;

        if (arg[0] == '/')
                return arg;
        if (arg[0] == '-' && (eq = strchr(arg, '=')) && eq[1] == '/')
                return eq + 1;
        return NULL;
}

/* ReadWritePaths= of a path that does not exist fails the unit before the supervisor runs (226/NAMESPACE); under
 * Landlock it is left out of the ruleset until a start finds it. */
static void check_rw_paths(const new_args *a, bool landlock) {
        struct stat st;

        for (size_t i = 0; i < a->n_rw_paths; i++) {
                if (lstat(a->rw_paths[i], &st) == 0 || errno != ENOENT)
                        continue;
                if (landlock)
                        fprintf(stderr, "Warning: --rw-path %s does not exist: the backend may write there only from "
                                "the first start after it does. Create it, writable by the backend's user.\n",
                                a->rw_paths[i]);
                else
                        fprintf(stderr, "Warning: --rw-path %s does not exist: systemd cannot start %s-backend.service "
                                "until it does (status 226/NAMESPACE). Create it, writable by the backend's user.\n",
                                a->rw_paths[i], a->name);
        }
}

int app_check(const new_args *a, const app_sandbox *sb, const char *backend_unit_text) {
        _cleanup_free_ unit_view *view = calloc(1, sizeof(unit_view));
        check_ctx x = { .a = a, .view = view };

        if (!view)
                return log_error_errno(-ENOMEM, "out of memory");
        view_read_text(view, backend_unit_text);
        view_read_dropins(view, a->unit_dir, a->name);
        view_rules(view);
        if (sb->landlock)
                landlock_rules(view, sb);
        backend_user_of(sb, &x.user);

        check_path(&x, WHAT_EXECUTABLE, 0, sb->executable);
        if (a->working_directory)
                check_path(&x, WHAT_WORKING_DIRECTORY, 0, a->working_directory);
        for (int i = 1; i < a->command_argc; i++) {
                const char *p = argument_path(a->command[i]);
                if (p)
                        check_path(&x, WHAT_ARGUMENT, i, p);
        }
        check_rw_paths(a, sb->landlock);
        unit_view_done(view);
        /* an app its unit keeps from starting is refused as a usage error (emberctl(1)): check_path() said why */
        return x.refused ? -EINVAL : 0;
}
