"""A provider is one folder: a toy provider written to a temporary folder, and
nothing else touched, is parsed, routed, signed with its own secret setting,
listed by `dlr config`, sampled and generated like the five built in.

The toy folder joins the streams.core.providers package in a fresh interpreter
(its search path extended before the package runs its discovery), so every
view is the real one, derived at import as in production."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from streams.core import providers
from streams.core.model import Receipt
from streams.core.providers import PROVIDERS, Provider, ProviderSetting, Webhook, discover

ROOT = Path(__file__).resolve().parents[2]

TOY: dict[str, str] = {
    "__init__.py": '''
        """Toy: receipts as `id=<id>;status=<word>` text."""

        from pathlib import Path

        from streams.core.providers._provider import Provider
        from streams.core.providers.toy import generate, parse, webhook

        PROVIDER = Provider(
            name="toy",
            parse=parse.parse,
            webhook=webhook.WEBHOOK,
            samples=Path(__file__).with_name("samples.txt"),
            generate=generate.receipt,
            lifecycles=generate.LIFECYCLES,
        )
    ''',
    "parse.py": '''
        from streams.core.model import Receipt, ReceiptError, Status
        from streams.core.providers import _wire
        from streams.core.providers._wire import Options

        NAME = "toy"
        STATUSES = {"sent": (Status.SENT, False), "ok": (Status.DELIVERED, True), "lost": (Status.UNDELIVERED, True)}


        def parse(payload: bytes, options: Options) -> Receipt:
            fields = dict(part.partition("=")[::2] for part in _wire.text(payload).split(";"))
            try:
                status, final = STATUSES[fields["status"]]
            except KeyError:
                raise ReceiptError(f"unknown toy status {fields.get('status')!r}") from None
            return Receipt(provider=NAME, message_id=fields["id"], status=status, final=final,
                           provider_status=fields["status"], event_time=int(fields["t"]))
    ''',
    "webhook.py": '''
        from streams.core.providers._http import SignatureError, hmac_sha256_hex, same_hex
        from streams.core.providers._provider import ProviderSetting, Webhook


        def verify(incoming, secret, settings):
            expected = hmac_sha256_hex(secret + settings["toy_region"], incoming.body)
            if not same_hex(incoming.headers.get("x-toy-signature", ""), expected):
                raise SignatureError("toy signature does not match")


        WEBHOOK = Webhook(
            methods=("POST",),
            signer=verify,
            secret=ProviderSetting("secret_toy", "Toy webhook secret: verifies X-Toy-Signature", secret=True),
            settings=(ProviderSetting("toy_region", "Toy region the account is in", default="eu",
                                      choices=("eu", "us")),),
            kept_headers=("x-toy-signature",),
            ok_status=202,
            ok_body="ACK/toy",
        )
    ''',
    "generate.py": '''
        LIFECYCLES = (("sent", "ok"), ("sent", "lost"))


        def receipt(mid, word, code, t):
            return f"id=t{mid};status={word};t={int(t.timestamp()) * 1_000_000}".encode()
    ''',
    "samples.txt": "id=t1;status=sent;t=1773133200000000\nid=t1;status=ok;t=1773133260000000\nid=t2;status=?;t=0\n",
}

# Run in a fresh interpreter with the toy folder's parent as a second folder of
# streams.core.providers; prints what every derived view made of it.
PROBE = '''
import importlib.util, json, sys, contextlib, io, hmac, hashlib

spec = importlib.util.find_spec("streams.core.providers")
spec.submodule_search_locations.append(sys.argv[1])
package = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = package
spec.loader.exec_module(package)

from streams import cli, settings
from streams.core import generate, providers, samples
from streams.core.model import ReceiptError
from streams.core.providers._http import Incoming, SignatureError
from streams.topics import raw_topic
from streams.worker.webhooks import receive
from streams.worker.webhooks.routes import ROUTES

out = {"names": providers.names()}
lines = samples.lines("toy")
out["samples"] = [line.decode() for line in lines]
out["parsed"] = providers.normalize("toy", lines[1]).message_key
with contextlib.suppress(ReceiptError):
    providers.normalize("toy", lines[2])
    out["bad line parsed"] = True
generated = [g for g in generate.receipts(6, providers=["toy"], seed=3)]
out["generated"] = sorted({providers.normalize(g.provider, g.payload).provider_status for g in generated})
route = ROUTES["toy"]
out["route"] = [route.path, list(route.methods), route.ok_status, route.ok_body, raw_topic("toy")]
out["signed"] = list(receive.SIGNED_PROVIDERS)
out["kept"] = list(receive.KEPT_HEADERS)
setting = settings.SETTINGS["secret_toy"]
out["setting"] = [setting.env, setting.secret, setting.help, settings.SETTINGS["toy_region"].default]
config = receive.WebhookConfig.from_settings()
body = lines[1]
good = hmac.new(b"s3cret" + b"us", body, hashlib.sha256).hexdigest()
route.verify(Incoming("POST", route.path, "", {"x-toy-signature": good}, body), config)
try:
    route.verify(Incoming("POST", route.path, "", {"x-toy-signature": "00"}, body), config)
except SignatureError as exc:
    out["refused"] = str(exc)
printed = io.StringIO()
with contextlib.redirect_stdout(printed):
    cli.main(["config", "--json"])
out["config"] = [r for r in json.loads(printed.getvalue()) if r["name"] in ("secret_toy", "toy_region")]
print(json.dumps(out))
'''


def write_toy(folder: Path) -> Path:
    toy = folder / "toy"
    toy.mkdir(parents=True)
    for name, text in TOY.items():
        (toy / name).write_text(textwrap.dedent(text).lstrip())
    return toy


def test_a_toy_provider_folder_is_picked_up_by_every_view(tmp_path: Path) -> None:
    extra = tmp_path / "more_providers"
    write_toy(extra)
    env = {"PATH": "/usr/bin:/bin", "DLR_SECRET_TOY": "s3cret", "DLR_TOY_REGION": " US "}
    run = subprocess.run([sys.executable, "-c", PROBE, str(extra)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout.splitlines()[-1])

    assert out["names"] == sorted([*PROVIDERS, "toy"])  # sorted in among the five
    assert out["samples"][0] == "id=t1;status=sent;t=1773133200000000"
    assert out["parsed"] == "toy:t1"
    assert "bad line parsed" not in out  # a ReceiptError, as for any provider
    assert out["generated"] == ["lost", "ok", "sent"]
    assert out["route"] == ["/dlr/toy", ["POST"], 202, "ACK/toy", "dlr.raw.toy"]
    assert "toy" in out["signed"] and "x-toy-signature" in out["kept"]
    assert out["setting"] == ["DLR_SECRET_TOY", True, "Toy webhook secret: verifies X-Toy-Signature", "eu"]
    assert out["refused"] == "toy signature does not match"  # with the secret and the region from the env
    assert [(r["env"], r["value"]) for r in out["config"]] == [("DLR_SECRET_TOY", "******"),
                                                               ("DLR_TOY_REGION", " US ")]
    assert "toy" not in providers.names()  # nothing outside the temporary folder changed


@pytest.mark.parametrize("files, reason", [
    ({"loose.py": ""}, "a folder with an __init__.py"),
    ({"nothing/__init__.py": ""}, "declares no PROVIDER"),
    ({"misnamed/__init__.py": "from streams.core.providers import PROVIDERS\nPROVIDER = PROVIDERS['smpp']\n"},
     "the name is the folder's"),
])
def test_discover_refuses_what_is_not_a_provider_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        files: dict[str, str], reason: str) -> None:
    package = tmp_path / "badproviders"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "_helper.py").write_text("raise AssertionError('helpers are not imported')\n")
    for name, text in files.items():
        (package / name).parent.mkdir(exist_ok=True)
        (package / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(ImportError, match=reason):
            discover("badproviders")
    finally:
        for name in [n for n in sys.modules if n.startswith("badproviders")]:
            del sys.modules[name]


def test_discover_finds_every_provider_folder() -> None:
    assert discover("streams.core.providers") == PROVIDERS
    assert list(PROVIDERS) == ["gatewayapi", "infobip", "jasmin", "kannel", "labsmobile", "messente", "sinch", "smpp",
                               "twilio", "vonage"]


def parse(payload: bytes, options: providers.Options) -> Receipt:
    raise AssertionError


def record(**changes: object) -> Provider:
    fields: dict[str, object] = {
        "name": "toy", "parse": parse, "webhook": Webhook(methods=("POST",)), "samples": Path("samples.txt"),
        "generate": lambda mid, word, code, t: b"", "lifecycles": (("sent", "ok"),),
    }
    return Provider(**{**fields, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize("make, reason", [
    (lambda: record(name="Toy"), "lower-case identifier"),
    (lambda: record(lifecycles=(("ok",),)), "two steps or more"),
    (lambda: record(webhook=Webhook(("POST",), settings=(ProviderSetting("region", "r"),))), "toy_<what>"),
    (lambda: Webhook(("PUT",)), "expected some of"),
    (lambda: Webhook(("POST",), signer=lambda i, s, c: None), "signer and its secret"),
    (lambda: Webhook(("POST",), signer=lambda i, s, c: None, secret=ProviderSetting("secret_toy", "s")),
     "secret=True"),
    (lambda: Webhook(("POST",), kept_headers=("authorization",)), "never credentials"),
    (lambda: Webhook(("POST",), ok_status=404), "2xx"),
    (lambda: ProviderSetting("toy_region", "r", default="mars", choices=("eu",)), "not one of its choices"),
])
def test_a_record_that_cannot_be_served_fails_when_made(make: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        make()  # type: ignore[operator]
