/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * kws: WebSocket (RFC 6455) as a TCP upper layer protocol.
 *
 * Usage: finish the HTTP Upgrade in userspace, then
 *
 *	setsockopt(fd, SOL_TCP, TCP_ULP, "ws", sizeof("ws"));
 *	setsockopt(fd, SOL_WS, WS_LEFTOVER, buf, n);	(optional, see below)
 *	setsockopt(fd, SOL_WS, WS_CONFIG, &cfg, sizeof(cfg));
 *
 * From WS_CONFIG on, recvmsg() returns at most one message per call (MSG_EOR
 * on the call that returns its last byte) with a WS_CMSG_OPCODE control
 * message, and sendmsg() sends one message per call (a fragment with MSG_MORE).
 * With WS_RECV_BATCH, one recvmsg() returns many whole messages, described by
 * a WS_CMSG_BATCH array of struct ws_msg_desc.
 * Documentation/abi.md describes every item and its errno.
 */
#ifndef _UAPI_LINUX_KWS_H
#define _UAPI_LINUX_KWS_H

#include <linux/types.h>

/* Private level, far from the kernel's SOL_* range (which ends at 287). Fixed. */
#define SOL_WS			0x5753

/* setsockopt/getsockopt names at SOL_WS */
#define WS_CONFIG		1	/* struct ws_config; set once, before data */
#define WS_LEFTOVER		2	/* set only: bytes read past the handshake */
#define WS_STATE		3	/* get only: struct ws_state */
#define WS_STATS		4	/* get only: struct ws_stats */
#define WS_TX_OPCODE		5	/* int: opcode of plain write()/send() */
#define WS_MAX_MSG_SIZE		6	/* __u64: largest message accepted (1009) */
#define WS_KEEPALIVE		7	/* struct ws_keepalive */
#define WS_RECV_BATCH		8	/* int 0/1: recvmsg returns many messages */

/* Largest WS_LEFTOVER total; more fails with EMSGSIZE. */
#define WS_LEFTOVER_MAX		65536

/* Opcodes (RFC 6455 5.2), as carried by WS_CMSG_OPCODE */
#define WS_OP_CONT		0x0
#define WS_OP_TEXT		0x1
#define WS_OP_BINARY		0x2
#define WS_OP_CLOSE		0x8
#define WS_OP_PING		0x9
#define WS_OP_PONG		0xa

/* ws_config.role */
#define WS_ROLE_CLIENT		1	/* masks what it sends, refuses masked input */
#define WS_ROLE_SERVER		2	/* refuses unmasked input */

/* ws_config.flags */
#define WS_F_DELIVER_CONTROL	(1U << 0) /* also deliver pings/pongs to recvmsg */
#define WS_F_NO_AUTO_PONG	(1U << 1) /* do not answer pings in the kernel */
#define WS_F_NO_UTF8_CHECK	(1U << 2) /* do not validate text/close reasons */
#define WS_F_ALL		(WS_F_DELIVER_CONTROL | WS_F_NO_AUTO_PONG | \
				 WS_F_NO_UTF8_CHECK)

/* ws_config.max_msg_size: 0 selects the default, ~0 means no limit. */
#define WS_MAX_MSG_DEFAULT	(16ULL << 20)
#define WS_MAX_MSG_UNLIMITED	(~0ULL)

struct ws_config {
	__u8	role;		/* WS_ROLE_* */
	__u8	tx_opcode;	/* WS_OP_TEXT or WS_OP_BINARY; 0 = binary */
	__u16	reserved;	/* must be zero */
	__u32	flags;		/* WS_F_* */
	__u64	max_msg_size;	/* bytes; see WS_MAX_MSG_* */
};

/* ws_state.state */
#define WS_STATE_UNCONFIGURED	0	/* attached, WS_CONFIG not set yet */
#define WS_STATE_OPEN		1
#define WS_STATE_CLOSING	2	/* one close frame sent or received */
#define WS_STATE_CLOSED		3	/* close sent and received, or failed */

struct ws_state {
	__u8	state;		/* WS_STATE_* */
	__u8	reserved;
	__u16	close_rcvd;	/* code of the close received, 0 if none */
	__u16	close_sent;	/* code of the close sent, 0 if none */
	__u16	reserved2;
};

struct ws_stats {
	__u64	rx_frames;
	__u64	rx_messages;	/* data messages completed */
	__u64	rx_bytes;	/* payload bytes */
	__u64	tx_frames;
	__u64	tx_messages;
	__u64	tx_bytes;
	__u64	pings_answered;	/* pongs sent by the kernel itself */
	__u64	pongs_received;
	__u64	protocol_errors; /* connections failed by the kernel */
};

struct ws_keepalive {
	__u32	idle_ms;	/* ping after this long without input; 0 = off */
	__u32	timeout_ms;	/* fail with 1011 if no pong by then */
};

/* Control message types at SOL_WS */
#define WS_CMSG_OPCODE		1	/* __u8 WS_OP_*: recvmsg and sendmsg */
#define WS_CMSG_CLOSE		2	/* struct ws_close: recvmsg and sendmsg */
#define WS_CMSG_BATCH		3	/* struct ws_msg_desc[]: recvmsg with
					 * WS_RECV_BATCH, one per message
					 */

/*
 * WS_RECV_BATCH: one recvmsg() copies whole data messages back to back and
 * describes them, in order, in one WS_CMSG_BATCH array of these.
 */
struct ws_msg_desc {
	__u32	len;		/* bytes of this message in the buffer */
	__u8	opcode;		/* WS_OP_TEXT or WS_OP_BINARY */
	__u8	flags;		/* WS_MSG_* */
	__u16	reserved;	/* zero */
};

/* ws_msg_desc.flags */
#define WS_MSG_EOR		(1U << 0) /* this entry ends its message */

/* ws_close.flags (recvmsg only; sendmsg requires 0) */
#define WS_CLOSE_LOCAL		(1U << 0) /* the kernel failed the connection:
					   * code is what it sent to the peer
					   */
#define WS_CLOSE_ABNORMAL	(1U << 1) /* TCP ended without a close frame */

struct ws_close {
	__u16	code;		/* WS_CLOSE_*; RFC 6455 7.4 */
	__u16	flags;
};

/* Close codes (RFC 6455 7.4.1) */
#define WS_CLOSE_NORMAL		1000
#define WS_CLOSE_GOING_AWAY	1001
#define WS_CLOSE_PROTOCOL_ERROR	1002
#define WS_CLOSE_UNSUPPORTED	1003
#define WS_CLOSE_NO_STATUS	1005	/* never on the wire */
#define WS_CLOSE_ABNORMAL_CODE	1006	/* never on the wire */
#define WS_CLOSE_INVALID_DATA	1007
#define WS_CLOSE_POLICY		1008
#define WS_CLOSE_TOO_BIG	1009
#define WS_CLOSE_EXTENSION	1010
#define WS_CLOSE_INTERNAL	1011

/* Generic netlink family: global statistics and defaults, per netns. */
#define KWS_GENL_NAME		"kws"
#define KWS_GENL_VERSION	1

enum kws_genl_cmd {
	KWS_CMD_UNSPEC,
	KWS_CMD_GET_STATS,	/* dump-free get: reply carries KWS_A_STATS */
	KWS_CMD_GET_DEFAULTS,	/* reply carries KWS_A_DEFAULTS */
	KWS_CMD_SET_DEFAULTS,	/* CAP_NET_ADMIN */
	__KWS_CMD_MAX,
};

#define KWS_CMD_MAX (__KWS_CMD_MAX - 1)

enum kws_genl_attr {
	KWS_A_UNSPEC,
	KWS_A_STATS,		/* nest of KWS_STAT_* (u64) */
	KWS_A_DEFAULTS,		/* nest of KWS_DEF_* */
	__KWS_A_MAX,
};

#define KWS_A_MAX (__KWS_A_MAX - 1)

enum kws_stat_attr {
	KWS_STAT_UNSPEC,
	KWS_STAT_PAD,
	KWS_STAT_CONN_ATTACHED,		/* u64: ULP attaches since load */
	KWS_STAT_CONN_ACTIVE,		/* u64: attached sockets now */
	KWS_STAT_RX_MESSAGES,
	KWS_STAT_RX_BYTES,
	KWS_STAT_TX_MESSAGES,
	KWS_STAT_TX_BYTES,
	KWS_STAT_PINGS_ANSWERED,
	KWS_STAT_ERR_PROTOCOL,		/* connections failed with 1002 */
	KWS_STAT_ERR_INVALID_DATA,	/* 1007 */
	KWS_STAT_ERR_TOO_BIG,		/* 1009 */
	KWS_STAT_ERR_KEEPALIVE,		/* 1011 after a pong timeout */
	__KWS_STAT_MAX,
};

#define KWS_STAT_MAX (__KWS_STAT_MAX - 1)

enum kws_def_attr {
	KWS_DEF_UNSPEC,
	KWS_DEF_PAD,
	KWS_DEF_MAX_MSG_SIZE,	/* u64: used when ws_config.max_msg_size is 0 */
	__KWS_DEF_MAX,
};

#define KWS_DEF_MAX (__KWS_DEF_MAX - 1)

#endif /* _UAPI_LINUX_KWS_H */
