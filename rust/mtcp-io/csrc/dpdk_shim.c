/*
 * Out-of-line wrappers over DPDK's inline fast-path functions and macros (rte_eth_rx_burst,
 * rte_eth_tx_burst, the mbuf helpers, rte_errno) and over the structs whose layout changes
 * between DPDK releases (rte_eth_conf, rte_eth_dev_info), so that the Rust side
 * (src/sys/dpdk.rs) declares only these functions and one small struct of its own.
 *
 * Built by build.rs with the flags of `pkg-config libdpdk` when the cargo feature `dpdk` is
 * on. Written against DPDK 22.11 (Debian bookworm); every function returns 0 or a count on
 * success and a negative errno on failure, as DPDK's own calls do.
 */
#include <rte_config.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <rte_dev.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>

/* What the Rust side needs to know about a port (filled by mtcp_dpdk_port_info). */
struct mtcp_dpdk_port_info {
    uint8_t mac[6];
    uint16_t mtu;
    uint16_t max_rx_queues;
    uint16_t max_tx_queues;
    uint64_t rx_offload_capa;
    uint64_t tx_offload_capa;
    uint64_t flow_type_rss_offloads;
    uint8_t hash_key_size;
    int32_t socket_id;
    char driver[64];
};

/* TX checksum offloads, as the bits mtcp_dpdk_port_info reports (RTE_ETH_TX_OFFLOAD_*). */
const uint64_t MTCP_DPDK_TX_TCP_CKSUM = RTE_ETH_TX_OFFLOAD_TCP_CKSUM;
const uint64_t MTCP_DPDK_RX_IPV4_CKSUM = RTE_ETH_RX_OFFLOAD_IPV4_CKSUM;
const uint64_t MTCP_DPDK_RX_TCP_CKSUM = RTE_ETH_RX_OFFLOAD_TCP_CKSUM;
const uint64_t MTCP_DPDK_RSS_TCP4 = RTE_ETH_RSS_NONFRAG_IPV4_TCP;

int mtcp_dpdk_eal_init(int argc, char **argv)
{
    int ret;
    /* The EAL logs to stdout (and syslog) by default: keep a program's stdout its own. */
    rte_openlog_stream(stderr);
    ret = rte_eal_init(argc, argv);
    return ret < 0 ? -rte_errno : ret;
}

/* rte_errno is a per-thread variable behind a macro. */
int mtcp_dpdk_errno(void)
{
    return rte_errno;
}

const char *mtcp_dpdk_strerror(int errnum)
{
    return rte_strerror(errnum);
}

int mtcp_dpdk_port_by_name(const char *name, uint16_t *port)
{
    return rte_eth_dev_get_port_by_name(name, port);
}

int mtcp_dpdk_port_valid(uint16_t port)
{
    return rte_eth_dev_is_valid_port(port);
}

/* Probes a device (a vdev such as "net_af_packet0,iface=veth0"), e.g. again after a close. */
int mtcp_dpdk_dev_probe(const char *devargs)
{
    return rte_dev_probe(devargs);
}

int mtcp_dpdk_port_info(uint16_t port, struct mtcp_dpdk_port_info *out)
{
    struct rte_eth_dev_info info;
    struct rte_ether_addr mac;
    uint16_t mtu = 0;
    int ret;

    memset(out, 0, sizeof(*out));
    ret = rte_eth_dev_info_get(port, &info);
    if (ret != 0)
        return ret;
    ret = rte_eth_macaddr_get(port, &mac);
    if (ret != 0)
        return ret;
    if (rte_eth_dev_get_mtu(port, &mtu) != 0)
        mtu = RTE_ETHER_MTU;
    memcpy(out->mac, mac.addr_bytes, 6);
    out->mtu = mtu;
    out->max_rx_queues = info.max_rx_queues;
    out->max_tx_queues = info.max_tx_queues;
    out->rx_offload_capa = info.rx_offload_capa;
    out->tx_offload_capa = info.tx_offload_capa;
    out->flow_type_rss_offloads = info.flow_type_rss_offloads;
    out->hash_key_size = info.hash_key_size;
    out->socket_id = rte_eth_dev_socket_id(port);
    if (info.driver_name != NULL)
        strncpy(out->driver, info.driver_name, sizeof(out->driver) - 1);
    return 0;
}

/* A pool of `n` single-segment mbufs of `data_room` bytes on NUMA socket `socket`. */
struct rte_mempool *mtcp_dpdk_pool_create(const char *name, unsigned n, unsigned cache,
                                          uint16_t data_room, int socket)
{
    return rte_pktmbuf_pool_create(name, n, cache, 0, data_room, socket);
}

/*
 * Configures `queues` RX and TX queue pairs on `port`, each RX queue filling from `pool`,
 * and starts the port. `rss_key` (may be NULL) with `rss_hf` turns on RSS over the queues.
 */
int mtcp_dpdk_port_start(uint16_t port, uint16_t queues, uint16_t rx_desc, uint16_t tx_desc,
                         uint64_t rx_offloads, uint64_t tx_offloads, const uint8_t *rss_key,
                         uint8_t rss_key_len, uint64_t rss_hf, struct rte_mempool *pool)
{
    struct rte_eth_conf conf;
    struct rte_eth_dev_info info;
    struct rte_eth_rxconf rxconf;
    struct rte_eth_txconf txconf;
    uint16_t nb_rxd = rx_desc, nb_txd = tx_desc;
    int socket = rte_eth_dev_socket_id(port);
    int ret;
    uint16_t q;

    ret = rte_eth_dev_info_get(port, &info);
    if (ret != 0)
        return ret;
    memset(&conf, 0, sizeof(conf));
    conf.rxmode.offloads = rx_offloads;
    conf.txmode.offloads = tx_offloads;
    if (rss_key != NULL && rss_hf != 0) {
        conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
        conf.rx_adv_conf.rss_conf.rss_key = (uint8_t *)rss_key;
        conf.rx_adv_conf.rss_conf.rss_key_len = rss_key_len;
        conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
    }
    ret = rte_eth_dev_configure(port, queues, queues, &conf);
    if (ret != 0)
        return ret;
    ret = rte_eth_dev_adjust_nb_rx_tx_desc(port, &nb_rxd, &nb_txd);
    if (ret != 0)
        return ret;
    rxconf = info.default_rxconf;
    rxconf.offloads = rx_offloads;
    txconf = info.default_txconf;
    txconf.offloads = tx_offloads;
    for (q = 0; q < queues; q++) {
        ret = rte_eth_rx_queue_setup(port, q, nb_rxd, socket < 0 ? SOCKET_ID_ANY : socket,
                                     &rxconf, pool);
        if (ret != 0)
            return ret;
        ret = rte_eth_tx_queue_setup(port, q, nb_txd, socket < 0 ? SOCKET_ID_ANY : socket,
                                     &txconf);
        if (ret != 0)
            return ret;
    }
    return rte_eth_dev_start(port);
}

/* Stops and closes `port` (a vdev port is released and its device removed). */
int mtcp_dpdk_port_close(uint16_t port)
{
    struct rte_eth_dev_info info;
    struct rte_device *dev = NULL;
    int ret;

    if (rte_eth_dev_info_get(port, &info) == 0)
        dev = info.device;
    ret = rte_eth_dev_stop(port);
    if (ret != 0 && ret != -EIO)
        return ret;
    ret = rte_eth_dev_close(port);
    if (ret != 0)
        return ret;
    /* The device outlives its closed port: remove it so a later probe can create it again. */
    if (dev != NULL)
        (void)rte_dev_remove(dev);
    return 0;
}

/* Frames the device dropped: missed (no descriptor) plus no mbuf plus RX errors. */
uint64_t mtcp_dpdk_port_drops(uint16_t port)
{
    struct rte_eth_stats stats;
    if (rte_eth_stats_get(port, &stats) != 0)
        return 0;
    return stats.imissed + stats.rx_nombuf + stats.ierrors;
}

uint16_t mtcp_dpdk_rx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
    return rte_eth_rx_burst(port, queue, pkts, n);
}

uint16_t mtcp_dpdk_tx_burst(uint16_t port, uint16_t queue, struct rte_mbuf **pkts, uint16_t n)
{
    return rte_eth_tx_burst(port, queue, pkts, n);
}

int mtcp_dpdk_alloc_bulk(struct rte_mempool *pool, struct rte_mbuf **mbufs, unsigned n)
{
    return rte_pktmbuf_alloc_bulk(pool, mbufs, n);
}

void mtcp_dpdk_free_bulk(struct rte_mbuf **mbufs, unsigned n)
{
    rte_pktmbuf_free_bulk(mbufs, n);
}

/*
 * A received frame's bytes: its data pointer and length, or NULL for a frame in several
 * segments (mtcp asks for none: no scatter, frames fit one mbuf). `bad_csum` is set when the
 * device flagged the IPv4 or L4 checksum bad.
 */
const uint8_t *mtcp_dpdk_rx_frame(const struct rte_mbuf *m, uint16_t *len, int *bad_csum)
{
    *bad_csum = (m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK) == RTE_MBUF_F_RX_IP_CKSUM_BAD ||
                (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD;
    if (m->nb_segs != 1)
        return NULL;
    *len = m->data_len;
    return rte_pktmbuf_mtod(m, const uint8_t *);
}

/* A fresh mbuf's writable room: where a frame to send starts and how many bytes fit. */
uint8_t *mtcp_dpdk_tx_room(struct rte_mbuf *m, uint16_t *room)
{
    *room = rte_pktmbuf_tailroom(m);
    return rte_pktmbuf_mtod(m, uint8_t *);
}

/*
 * Sets a frame's length, and with `l3_len` > 0 asks the device to finish its TCP checksum
 * (the segment carries the pseudo-header sum, as RTE_MBUF_F_TX_TCP_CKSUM wants).
 */
void mtcp_dpdk_tx_set(struct rte_mbuf *m, uint16_t len, uint16_t l2_len, uint16_t l3_len)
{
    m->data_len = len;
    m->pkt_len = len;
    m->nb_segs = 1;
    if (l3_len > 0) {
        m->ol_flags = RTE_MBUF_F_TX_IPV4 | RTE_MBUF_F_TX_TCP_CKSUM;
        m->l2_len = l2_len;
        m->l3_len = l3_len;
    } else {
        m->ol_flags = 0;
    }
}
