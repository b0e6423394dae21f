"""The CCP simulator against pyaim's CCPPasswordREST, with a client certificate."""

import pytest
from pyaim import CCPPasswordREST

from conftest import PLANTED


def client(sim, cert=True):
    return CCPPasswordREST(
        sim.info["ccp_url"],
        verify=sim.info["ca_cert"],
        cert=(sim.info["client_cert"], sim.info["client_key"]) if cert else None,
    )


def test_success_returns_string_properties(sim):
    r = client(sim).GetPassword(appid="arkbridge", safe="Prod-DB", object="payments-db", reason="conformance")
    assert r["Content"] == PLANTED
    assert r["UserName"] == "payments"
    assert r["Address"] == "db.prod.example.com"
    assert r["Safe"] == "Prod-DB" and r["Folder"] == "Root" and r["Name"] == "payments-db"
    assert r["PasswordChangeInProcess"] == "False"
    assert all(isinstance(v, str) for v in r.values())


def test_lookup_by_username(sim):
    r = client(sim).GetPassword(appid="arkbridge", safe="Prod-DB-RO", username="payments_ro")
    assert r["Name"] == "payments-db-ro"


def test_not_found_is_404(sim):
    with pytest.raises(ConnectionError, match="Status: 404"):
        client(sim).GetPassword(appid="arkbridge", safe="Prod-DB", object="no-such-account")


def test_not_permitted_is_the_same_404(sim):
    # The AppID is no member of this safe: the CCP must not say whether the account exists.
    with pytest.raises(ConnectionError, match="Status: 404"):
        client(sim).GetPassword(appid="arkbridge", safe="Locked-Safe", object="hidden")


def test_too_many_objects_is_appap227e(sim):
    with pytest.raises(ConnectionError, match="CCP Error APPAP227E"):
        client(sim).GetPassword(appid="arkbridge", safe="Dup-Safe", username="dup")


def test_without_client_certificate_is_403(sim):
    with pytest.raises(ConnectionError, match="Status: 403"):
        client(sim, cert=False).GetPassword(appid="arkbridge", safe="Prod-DB", object="payments-db")


def test_unknown_application_is_403(sim):
    with pytest.raises(ConnectionError, match="Status: 403"):
        client(sim).GetPassword(appid="no-such-app", safe="Prod-DB", object="payments-db")


def test_vault_unreachable_is_appap007e(sim):
    sim.set_faults(vault_down=True)
    try:
        with pytest.raises(ConnectionError, match="CCP Error APPAP007E"):
            client(sim).GetPassword(appid="arkbridge", safe="Prod-DB", object="payments-db")
    finally:
        sim.set_faults(vault_down=False)
    assert client(sim).GetPassword(appid="arkbridge", safe="Prod-DB", object="payments-db")["Content"]
