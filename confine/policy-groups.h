#pragma once
/* systemd's syscall groups, as data for the policy parser (policy-groups.c). */

/* Members of a syscall group such as "@system-service" (space-separated, may name other groups), or NULL. */
const char *policy_group_members(const char *group);
/* The group names known, one at a time: idx 0, 1, ... until NULL. */
const char *policy_group_name(unsigned idx);
