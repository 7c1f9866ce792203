"""Kannel's webhook: smsbox fetches the message's `dlr-url` with GET, its
escape codes filled in and URL-encoded (Kannel user guide, "Delivery
Reports"; gw/urltrans.c). Set it per message (sendsms `dlr-url`) or per
sendsms-user (`dlr-url` in the group), with the mask of reports wanted
(`dlr-mask`, 31 for all five):

    http://<worker>:6066/dlr/kannel?type=%d&reply=%A&fid=%F&id=%I&to=%p&ts=%T&smsc=%i

and, to find your messages again, `&ref=<your message id>` per message
(parse.py says what each is read for, and what the message id is).

Any 200 or 202 ends the report; another answer is fetched again if
`http-request-retry` is set (gw/smsbox.c, url_result_thread: a report's reply
body is never read). No signature: Kannel signs nothing it fetches."""

from __future__ import annotations

from streams.core.providers._provider import Webhook

WEBHOOK = Webhook(methods=("GET",))
