/* slots.h - max_clients and max_clients_per_ip under any launcher */
#ifndef SLOTS_H
#define SLOTS_H

#include "cfg.h"

enum slots_result { SLOTS_OK, SLOTS_FULL, SLOTS_IP_FULL };

/* slots_take - hold one of the server entry's max_clients slots and one
 * of the client IP's max_clients_per_ip slots until the process exits.
 * Slots are byte locks in files under spool_dir/slots, so a killed
 * session frees its slot. A slot file that cannot be used is logged and
 * the limit not enforced (mail keeps flowing). */
enum slots_result slots_take(const struct cfg *cfg,
                              const struct cfg_server *srv,
                              const char *peer_ip);

/* slots_take_ip - only the max_clients_per_ip slot, for a client the
 * session learnt after connect (a PROXY header, XCLIENT ADDR). *fd is the
 * slot's descriptor (closing it frees the slot) or -1 when none is held;
 * "unknown" and a limit of 0 take none. */
enum slots_result slots_take_ip(const struct cfg *cfg,
                                const struct cfg_server *srv,
                                const char *ip, int *fd);

#endif
