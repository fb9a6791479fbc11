#include <string.h>

#include "events.h"
#include "macro.h"

const ember_event ember_events[] = {
        { "cold-start", "adc55d4a805b4338a008f0f8f8bc849f" },
        { "ready", "c74648337040459999369c7361e236f4" },
        { "idle-stop", "546436672b424546b6553f85d4e97bb1" },
        { "stop", "65edcbd895df431b92dcba4cf0d13ad1" },
        { "crash", "af57fccfdac74588ba293e51ac14b079" },
        { "exit", "f0f3f0cab02c421fb6f0716c0791d3c8" },
        { "seccomp-kill", "ffca3d7b868c4373805837965a715c44" },
        { "start-timeout", "9d45b8b9113240debc357ad92c86fd29" },
        { "start-failed", "82378aaf087348699ba71850dbafb736" },
        { "heal", "025bf74342bc4ec5bb2990744952dadc" },
        { "stale-state", "d8cbcd3eba4b41a4a570452966938cb6" },
        { "state-lost", "62faf2176a6148439c306ac97178d7e5" },
        { "upgrade-start", "c0637ab6a02e4b9e965641240830924c" },
        { "upgrade-ready", "10746216256d434ebe2eb32b764509f9" },
        { "upgrade-failed", "d17d261c22ee4650a4d6456fd37041c7" },
        { "drained", "df6615370fcc402ca3356db058a73b77" },
        { "freeze", "ca12c66b9c1544f2a02d10434032ccc6" },
        { "thaw", "ba9932a864f24d49983317fb187ed4ed" },
        { "checkpoint", "8bab2a1afc9e4ae2bb6e325be820f23e" },
        { "checkpoint-failed", "00b6d1dd7bce4f50a051412cb3bcc518" },
        { "restore", "303730525d90404381724eb056c2b999" },
        { "restore-failed", "8de9b4a8a27b4952bcfe3c2221fad532" },
};
const size_t ember_events_n = ELEMENTSOF(ember_events);

const char *event_message_id_field(const char *event) {
        static char field[sizeof("MESSAGE_ID=") + 32];

        for (size_t i = 0; i < ember_events_n; i++)
                if (strcmp(ember_events[i].name, event) == 0) {
                        memcpy(field, "MESSAGE_ID=", sizeof("MESSAGE_ID=") - 1);
                        memcpy(field + sizeof("MESSAGE_ID=") - 1, ember_events[i].message_id, 33);
                        return field;
                }
        return NULL;
}
