#include "net/backend.h"

#include "net/net_config.h"
#include "net/slirp.h"
#include "net/tap.h"

int net_backend_create(const struct net_config *config, struct net_backend **backend,
                       struct error *error)
{
    switch (config->kind) {
    case NET_KIND_USER:
        return net_slirp_create(backend, config, error);
    case NET_KIND_TAP:
        return net_tap_create(backend, config, error);
    }
    return error_set(error, "--net: unknown back end");
}
