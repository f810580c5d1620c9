// SPDX-License-Identifier: GPL-2.0
/*
 * kws generic netlink family "kws" (KWS_CMD_* in the uapi header): global
 * statistics through kws_stats_get() and per-netns defaults. Filled in by
 * the tools work; until then registering it is a no-op.
 */
#include "kws.h"

int kws_nl_register(void)
{
	return 0;
}

void kws_nl_unregister(void)
{
}
