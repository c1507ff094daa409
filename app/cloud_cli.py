"""`hearth cloud …` and `hearth outbox …`: cloud assist from a terminal (the same CloudAssist
the window uses), and the `hearth ask --cloud` round-trip."""

from __future__ import annotations

import getpass
import json
import sys

from sync.cloud import CloudError


def add_parsers(sub) -> None:
    cloud = sub.add_parser("cloud", help="cloud assist: off by default; what can leave, to where")
    cs = cloud.add_subparsers(dest="cloud_command", required=True)
    cs.add_parser("status", help="is anything allowed to leave, and to where")
    enable = cs.add_parser("enable", help="turn cloud assist on for an OpenAI-compatible endpoint")
    enable.add_argument("--endpoint", required=True, metavar="URL",
                        help="base URL, e.g. http://127.0.0.1:8000/v1")
    enable.add_argument("--model", required=True, help="the model name the endpoint serves")
    enable.add_argument("--policy", choices=("ask", "fallback", "never"), default="ask",
                        help="ask: preview and approve every send (default); fallback: only when "
                             "the local plan fails or you say 'ask the cloud'")
    enable.add_argument("--timeout", type=float, metavar="S", help="seconds per request")
    enable.add_argument("--training-consent", choices=("yes", "no"),
                        help="may the cloud's (anonymized) answers train the local model")
    cs.add_parser("disable", help="turn cloud assist off (nothing leaves the machine)")
    cs.add_parser("test", help="check the endpoint answers (lists its models)")
    set_key = cs.add_parser("set-key", help="store the endpoint's API key in the system keyring "
                            "(read from stdin, never from the command line)")
    set_key.add_argument("--endpoint", metavar="URL", help="default: the configured endpoint")
    forget = cs.add_parser("forget-key", help="delete the endpoint's API key")
    forget.add_argument("--endpoint", metavar="URL", help="default: the configured endpoint")

    outbox = sub.add_parser("outbox", help="what was prepared for or sent to the cloud")
    os_ = outbox.add_subparsers(dest="outbox_command")
    os_.add_parser("list", help="the entries, newest first (the default)")
    for name, what in (("show", "one entry: the exact payload and the reply"),
                       ("delete", "delete an entry (and its name mapping)"),
                       ("approve", "approve an entry awaiting approval, and send it"),
                       ("decline", "do not send an entry"),
                       ("retry", "queue a failed entry again, and send it")):
        p = os_.add_parser(name, help=what)
        p.add_argument("id", type=int)
    os_.add_parser("send", help="send everything due now")


def _open():
    from memory.db import Database
    from memory.settings import load_settings
    from sync.service import CloudAssist

    db = Database()
    settings = load_settings(db)
    return db, settings, CloudAssist(db, lambda: settings)


def run_cloud(args) -> int:
    from memory.settings import save_settings
    from sync import keys
    from sync.cloud import check_base_url

    db, settings, cloud = _open()
    try:
        command = args.cloud_command
        if command == "status":
            print(cloud.status_text())
            print(f"  cloud assist: {'on' if settings.cloud_enabled else 'off'}, "
                  f"policy {settings.cloud_policy}")
            print(f"  endpoint: {settings.cloud_base_url or '(none)'}  model: "
                  f"{settings.cloud_model or '(none)'}  timeout: {settings.cloud_timeout_s:g} s")
            if settings.cloud_base_url:
                has_key = keys.get_api_key(settings.cloud_base_url) is not None
                print(f"  API key: {'set' if has_key else 'not set'} "
                      f"(keys go to the {keys.store_name()})")
            print(f"  training consent: {'yes' if settings.cloud_training_consent else 'no'}")
            counts: dict[str, int] = {}
            for r in cloud.outbox.list(limit=100_000):
                counts[r.status] = counts.get(r.status, 0) + 1
            print("  outbox: " + (", ".join(f"{n} {s.replace('_', ' ')}"
                                            for s, n in sorted(counts.items())) or "empty"))
            return 0
        if command == "enable":
            settings.cloud_base_url = check_base_url(args.endpoint)
            settings.cloud_model = args.model.strip()
            settings.cloud_policy = args.policy
            if args.timeout is not None:
                settings.cloud_timeout_s = args.timeout
            if args.training_consent is not None:
                settings.cloud_training_consent = args.training_consent == "yes"
            settings.cloud_enabled = True
            save_settings(db, settings)
            print(cloud.status_text() + f" (model {settings.cloud_model}, policy {args.policy})")
            return 0
        if command == "disable":
            settings.cloud_enabled = False
            save_settings(db, settings)
            print(cloud.status_text())
            return 0
        if command == "test":
            if not (settings.cloud_base_url and settings.cloud_model):
                print("hearth: no endpoint set: hearth cloud enable --endpoint URL --model NAME",
                      file=sys.stderr)
                return 2
            print(cloud.test_connection(settings))
            return 0
        url = check_base_url(args.endpoint or settings.cloud_base_url or "")
        if command == "set-key":
            if sys.stdin.isatty():
                key = getpass.getpass(f"API key for {url}: ")
            else:
                key = sys.stdin.readline()
            where = keys.set_api_key(url, key)
            cloud.forget_client()
            print(f"Stored the API key for {url} in the {where}.")
            return 0
        found = keys.delete_api_key(url)
        print(f"Forgot the API key for {url}." if found else f"No API key was stored for {url}.")
        return 0 if found else 1
    except (ValueError, CloudError, keys.KeyStoreError) as exc:
        print(f"hearth: {exc}", file=sys.stderr)
        return 1
    finally:
        cloud.close()
        db.close()


def run_outbox(args) -> int:
    from sync.outbox import OutboxError

    db, settings, cloud = _open()
    try:
        command = args.outbox_command or "list"
        if command == "list":
            records = cloud.outbox.list()
            for r in records:
                print(entry_line(r))
            if not records:
                print("The outbox is empty: nothing was prepared for the cloud.")
            return 0
        if command == "show":
            record = cloud.outbox.get(args.id)
            if record is None:
                raise OutboxError(f"There is no outbox entry {args.id}.")
            print(json.dumps(record.to_dict(), ensure_ascii=False, indent=2))
            return 0
        if command == "delete":
            if not cloud.delete(args.id):
                raise OutboxError(f"There is no outbox entry {args.id}.")
            print(f"Deleted outbox entry {args.id}.")
            return 0
        if command == "decline":
            cloud.decline(args.id)
            print(f"Declined outbox entry {args.id}; it will not be sent.")
            return 0
        if command == "approve":
            cloud.approve(args.id)
        elif command == "retry":
            cloud.retry(args.id)
        return send_and_report(cloud, only=None if command == "send" else args.id)
    except OutboxError as exc:
        print(f"hearth: {exc}", file=sys.stderr)
        return 1
    finally:
        cloud.close()
        db.close()


def send_and_report(cloud, only: int | None = None) -> int:
    if not cloud.enabled:
        print(f"hearth: {cloud.status_text()}: nothing is sent. Turn cloud assist on with "
              f"hearth cloud enable.", file=sys.stderr)
        return 1
    done = cloud.process_due()
    code = 0
    for r in done:
        if only is not None and r.id != only:
            continue
        print(entry_line(r))
        if r.status == "sent" and r.restored:
            print(r.restored)
        elif r.status != "sent":
            code = 1
    if only is not None and not any(r.id == only for r in done):
        record = cloud.outbox.get(only)
        print(entry_line(record) if record else f"No outbox entry {only}.")
        code = 1
    if only is None and not done:
        print("Nothing is due.")
    return code


def entry_line(r) -> str:
    from sync.cloud import host_of

    when = r.created_at.strftime("%Y-%m-%d %H:%M:%S")
    state = r.status.replace("_", " ")
    if r.status == "queued" and r.attempts:
        state += f" (tried {r.attempts}x, next {r.next_attempt_at:%H:%M:%S})"
    line = f"#{r.id}  {when}  {r.kind:<6}  to {host_of(r.endpoint)} ({r.model})  {state}"
    if r.last_error:
        line += f"  — {r.last_error}"
    return line


def preview(record) -> str:
    """The payload as the user approves it: exactly the messages that would leave."""
    lines = [f"To {record.endpoint} (model {record.model}), outbox entry #{record.id}:"]
    for m in record.messages:
        lines.append(f"--- {m['role']} ---")
        lines.append(m["content"])
    lines.append("---")
    return "\n".join(lines)


def ask_round_trip(cloud, record, *, yes: bool, interactive: bool, as_json: bool) -> tuple[int, dict]:
    """`hearth ask --cloud`, after the local answer: approve (asking if need be), send, and
    print the restored cloud answer. Returns (exit code, the entry for --json)."""
    out = sys.stderr
    if record.status == "awaiting_approval":
        print(preview(record), file=out)
        if yes:
            approved = True
        elif interactive:
            print("Send this to the cloud? [y/N] ", end="", file=out, flush=True)
            approved = sys.stdin.readline().strip().lower() in ("y", "yes")
        else:
            print(f"[Outbox #{record.id} awaits your approval: hearth outbox approve "
                  f"{record.id} (or ask again with --yes)]", file=out)
            return 0, record.to_dict()
        if not approved:
            cloud.decline(record.id)
            print(f"[Not sent: outbox #{record.id} declined]", file=out)
            return 0, cloud.outbox.get(record.id).to_dict()
        cloud.approve(record.id)
    print(f"[Asking {record.model} at {record.endpoint}…]", file=out)
    done = [r for r in cloud.process_due() if r.id == record.id]
    final = done[0] if done else cloud.outbox.get(record.id)
    if final.status != "sent":
        print(f"[The cloud did not answer: {final.last_error or final.status}. It stays in the "
              f"outbox (#{final.id}) and is sent later: hearth outbox send]", file=out)
        return 1, final.to_dict()
    if final.kind == "answer" and not as_json:
        print(f"\n[Cloud answer, by {final.model}:]", file=out)
        print(final.restored)
    elif final.kind == "plan" and not as_json:
        print(f"[The cloud's plan, kept as a training example: {final.restored or final.last_error}]",
              file=out)
    return 0, final.to_dict()
