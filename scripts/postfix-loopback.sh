#!/usr/bin/env bash
# A real Postfix on loopback port 2525 for tests/worker/smtp-postfix.test.ts (issue 22), configured
# as strictly as the mail servers replies meet: a HELO/EHLO name must be a fully qualified domain
# (`reject_non_fqdn_helo_hostname` refuses worker-mailer's bare `127.0.0.1` with 504 5.5.2), a
# message larger than 100 kB is refused (SIZE, RFC 1870), and commands pipelined against RFC 2920
# or lines ending in a bare LF are refused (`smtpd_forbid_unauth_pipelining`,
# `smtpd_forbid_bare_newline`). Mail to any address at loopback.test is accepted and kept locally.
# Debian only, as root: installs the `postfix` package when it is missing. Without this script the
# test skips itself. Usage: bash scripts/postfix-loopback.sh [start|stop]
set -euo pipefail

PORT=2525
if [ "${1:-start}" = stop ]; then
  postfix stop >/dev/null 2>&1 || true
  exit 0
fi

if ! command -v postfix >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  echo 'postfix postfix/main_mailer_type select Local only' | debconf-set-selections
  echo 'postfix postfix/mailname string mx.loopback.test' | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends postfix >/dev/null
fi

postconf -e \
  'myhostname = mx.loopback.test' \
  'inet_interfaces = loopback-only' \
  'inet_protocols = ipv4' \
  'mydestination = loopback.test, mx.loopback.test, localhost' \
  'local_recipient_maps =' \
  'mynetworks = 127.0.0.0/8' \
  'smtpd_helo_required = yes' \
  'smtpd_helo_restrictions = reject_invalid_helo_hostname, reject_non_fqdn_helo_hostname' \
  'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination' \
  'message_size_limit = 100000' \
  'smtpd_forbid_unauth_pipelining = yes' \
  'smtpd_forbid_bare_newline = yes' \
  'compatibility_level = 3.6'
postconf -M "${PORT}/inet=${PORT} inet n - n - - smtpd"
# Whatever arrives goes to root's mailbox file; the log says what each session did (its
# `disconnect from … ehlo=1 mail=3 rcpt=3 data=3 quit=1` line: no RSET, QUIT after a refusal too).
postconf -e 'luser_relay = root' 'mailbox_size_limit = 0' 'maillog_file = /var/log/postfix.log'

postfix check
if postfix status >/dev/null 2>&1; then postfix reload >/dev/null; else postfix start >/dev/null; fi
for _ in $(seq 1 50); do
  if (exec 3<>/dev/tcp/127.0.0.1/${PORT}) 2>/dev/null; then
    echo "Postfix $(postconf -h mail_version) on 127.0.0.1:${PORT}"
    exit 0
  fi
  sleep 0.2
done
echo "Postfix did not open 127.0.0.1:${PORT}" >&2
exit 1
