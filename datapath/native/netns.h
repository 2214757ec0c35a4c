/*
 * Entering another network namespace for one step and coming back, shared by the parts of the
 * addon that must create something inside a namespace (a TUN, a netlink socket): the kernel
 * binds both to the namespace of the thread that creates them.
 */
#ifndef WGMPLS_NETNS_H
#define WGMPLS_NETNS_H

#include <stddef.h>

/* Moves this thread into the network namespace at `path`, remembering where it was in *orig.
 * Returns 0, or an errno with `step` naming what failed. Always pair with ns_leave(). */
int ns_enter(const char *path, int *orig, char *step, size_t steplen);

/* Back to the namespace ns_enter() saved (if it got that far); fatal if that fails. */
void ns_leave(int orig, int entered, const char *who);

#endif
