"""The public API is exactly ``whsim.__all__``, and importing it stays light."""

import subprocess
import sys

import whsim

EXPECTED = {
    "EVENT_TYPES",
    # the simulator (issue 3)
    "Arrival",
    "Behaviour",
    "Downtime",
    "Latency",
    "Outage",
    "Scenario",
    "Sender",
    "SimResult",
    "Webhook",
    "Workload",
    "load_scenario",
    "simulate",
    "Clause",
    "Clock",
    "DeliveryState",
    "DeliveryStatus",
    "Event",
    "EventDataError",
    "Mode",
    "Reading",
    "Readings",
    "Registration",
    "RegistrationError",
    "RetryPolicy",
    "ScaledClock",
    "ScenarioError",
    "SignatureFormatError",
    "SpecInputError",
    "UnknownReadingError",
    "Verdict",
    "VirtualClock",
    "WallClock",
    "WebhookStatus",
    "WhsimError",
    "__version__",
    "after_attempt",
    "check",
    "before_attempt",
    "clauses",
    "findings",
    "make_event",
    "parse_event",
    "sign",
    "standard_sign",
    "standard_verify",
    "verify",
}


def test_all_is_exactly_the_public_api():
    assert set(whsim.__all__) == EXPECTED
    assert len(whsim.__all__) == len(set(whsim.__all__))


def test_every_public_name_exists():
    for name in whsim.__all__:
        assert getattr(whsim, name) is not None, name


def test_public_module_level_names_are_all_listed():
    public = {n for n in vars(whsim) if not n.startswith("_") and n not in {"annotations"}}
    modules = {n for n in public if type(getattr(whsim, n)).__name__ == "module"}
    assert public - modules <= set(whsim.__all__)


def test_import_does_not_load_heavy_modules():
    code = (
        "import sys, whsim; heavy = [m for m in ('pandas', 'matplotlib', 'pytest', 'jupyter',"
        " 'IPython', 'starlette', 'httpx') if m in sys.modules]; print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_errors_share_one_base_and_bad_input_is_value_error():
    for name in (
        "EventDataError",
        "RegistrationError",
        "ScenarioError",
        "SignatureFormatError",
        "UnknownReadingError",
        "SpecInputError",
    ):
        cls = getattr(whsim, name)
        assert issubclass(cls, whsim.WhsimError)
        assert issubclass(cls, ValueError)
