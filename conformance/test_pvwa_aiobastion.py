"""The PVWA and CCP simulators against aiobastion (pinned in requirements.txt).

aiobastion is asynchronous (aiohttp); every test runs its own event loop with `asyncio.run` and
its own `EPV`, so tests do not depend on each other. What a test adds, it removes. The CPM test
uses a simulator of its own with a slow CPM, so that the `inProcess` state is seen for sure.
"""

import asyncio
import pathlib
import tempfile
import time
from urllib.parse import urlparse

import pytest
from aiobastion import EPV
from aiobastion.exceptions import (
    CyberarkAIMnotFound,
    CyberarkAPIException,
    CyberarkException,
    CyberarkNotFoundException,
    GetTokenException,
)

from conftest import ADMIN_PASSWORD, PLANTED, Sim


def host(url: str) -> str:
    """aiobastion takes `host[:port]` and builds `https://HOST/PasswordVault/...` itself."""
    return urlparse(url).netloc


def vault(sim, username="Administrator", password=ADMIN_PASSWORD, **extra) -> EPV:
    config = {"api_host": host(sim.info["pvwa_url"]), "verify": sim.info["ca_cert"], **extra}
    if username is not None:
        config["username"] = username
    if password is not None:
        config["password"] = password
    return EPV(serialized=config)


def aim_config(sim) -> dict:
    return {
        "host": host(sim.info["ccp_url"]),
        "appid": sim.info["app_id"],
        "cert": sim.info["client_cert"],
        "key": sim.info["client_key"],
        "verify": sim.info["ca_cert"],
    }


def run(coro):
    return asyncio.run(coro)


async def account_id(epv: EPV, safe: str, name: str) -> str:
    found = [a for a in await epv.account.search_account_by(safe=safe) if a.name == name]
    assert len(found) == 1, found
    return found[0].id


# --- logon / logoff ---------------------------------------------------------------------------


def test_logon_reuse_of_the_token_and_logoff(sim):
    async def go():
        epv = vault(sim)
        await epv.login()
        token = epv.to_json()["token"]
        assert token and '"' not in token and len(token) >= 180
        assert await epv.check_token() is True  # GET api/LoginsInfo

        # A serialized token is reused as it is: login() checks it and does not log on again.
        # (aiobastion 0.1.9 checks the token before it sets up TLS, so set TLS up first.)
        again = EPV(serialized={"api_host": host(sim.info["pvwa_url"]), "verify": sim.info["ca_cert"], "token": token})
        again.validate_and_setup_ssl()
        await again.login()
        assert "Prod-DB" in await again.safe.list()
        await again.close_session()

        assert await epv.logoff() is True
        dead = EPV(serialized={"api_host": host(sim.info["pvwa_url"]), "verify": sim.info["ca_cert"], "token": token})
        dead.validate_and_setup_ssl()
        assert await dead.check_token() is False
        with pytest.raises(CyberarkException, match="not logged"):
            await dead.safe.list()
        await dead.close_session()

    run(go())


def test_logon_with_a_wrong_password_is_refused(sim):
    async def go():
        epv = vault(sim, password="not-the-password")
        with pytest.raises(GetTokenException, match="Invalid credentials"):
            await epv.login()
        await epv.close_session()

    run(go())


# --- accounts ---------------------------------------------------------------------------------


def test_search_by_safe_filter(sim):
    async def go():
        async with vault(sim) as epv:
            accounts = await epv.account.search_account_by(safe="Prod-DB")
            assert [(a.name, a.safeName, a.userName) for a in accounts] == [("payments-db", "Prod-DB", "payments")]
            assert accounts[0].platformId == "PostgreSQL"
            assert accounts[0].address == "db.prod.example.com"
            assert accounts[0].platformAccountProperties.get("Port") == "5432"
            # A filter on a safe that does not exist is an empty answer, not an error.
            assert await epv.account.search_account_by(safe="No-Such-Safe") == []

    run(go())


def test_search_by_keyword_and_by_property(sim):
    async def go():
        async with vault(sim) as epv:
            names = {a.name for a in await epv.account.search_account("payments")}
            assert names == {"payments-db", "payments-db-ro"}
            # Two keywords must both match.
            names = {a.name for a in await epv.account.search_account("payments db-ro")}
            assert names == {"payments-db-ro"}
            # Property searches: aiobastion searches the value, then keeps exact matches.
            by_user = await epv.account.search_account_by(username="payments_ro")
            assert [a.name for a in by_user] == ["payments-db-ro"]
            both = await epv.account.search_account_by(username="dup", safe="Dup-Safe", address="b.example.com")
            assert [a.name for a in both] == ["dup-b"]
            assert await epv.account.search_account("no-such-keyword-anywhere") == []

    run(go())


def test_search_pages_with_next_link(sim):
    async def go():
        async with vault(sim) as epv:
            first = await epv.account.search_account_paginate(page=1, size_of_page=1, safe="Dup-Safe")
            assert len(first["accounts"]) == 1 and first["has_next_page"] is True
            second = await epv.account.search_account_paginate(page=2, size_of_page=1, safe="Dup-Safe")
            assert len(second["accounts"]) == 1 and second["has_next_page"] is False
            names = {a.name for a in first["accounts"] + second["accounts"]}
            assert names == {"dup-a", "dup-b"}
            # The iterator follows pages until nextLink is gone.
            assert {a.name async for a in epv.account.search_account_iterator(safe="Dup-Safe")} == names

    run(go())


def test_get_account(sim):
    async def go():
        async with vault(sim) as epv:
            acc_id = await account_id(epv, "Prod-DB", "payments-db")
            acc = await epv.account.get_account(acc_id)
            assert (acc.id, acc.name, acc.safeName, acc.userName) == (acc_id, "payments-db", "Prod-DB", "payments")
            assert acc.secretType == "password"
            assert acc.secretManagement["automaticManagementEnabled"] is True
            ro_id = await account_id(epv, "Prod-DB-RO", "payments-db-ro")
            many = await epv.account.get_account([acc_id, ro_id])
            assert [a.name for a in many] == ["payments-db", "payments-db-ro"]
            with pytest.raises(CyberarkNotFoundException):
                await epv.account.get_account("99_99")

    run(go())


def test_password_retrieve_with_reason(sim):
    reason = "aiobastion conformance: retrieve"

    async def go():
        async with vault(sim) as epv:
            acc_id = await account_id(epv, "Prod-DB", "payments-db")
            assert await epv.account.get_password(acc_id, reason=reason) == PLANTED
            # A PrivilegedAccount works as well as an id.
            acc = await epv.account.get_account(acc_id)
            assert await epv.account.get_password(acc, reason=reason) == PLANTED
            # The reason is on the account's (Gen2) activity log.
            log = await epv.handle_request("get", f"API/Accounts/{acc_id}/Activities")
            assert any(a["Reason"] == reason and a["User"] == "Administrator" for a in log["Activities"]), log

    run(go())


def test_password_retrieve_needs_the_retrieve_permission(sim):
    async def go():
        # arkbridge-svc may list Prod-DB and start CPM tasks there, but not retrieve.
        async with vault(sim, username=sim.info["pvwa_user"], password=sim.info["pvwa_password"]) as epv:
            acc_id = await account_id(epv, "Prod-DB", "payments-db")
            with pytest.raises(CyberarkAPIException) as err:
                await epv.account.get_password(acc_id, reason="not allowed")
            assert (err.value.http_status, err.value.err_code) == (403, "PASWS041E")

    run(go())


@pytest.fixture(scope="module")
def slow_cpm_sim():
    """A simulator of its own whose CPM takes two seconds per task."""
    with tempfile.TemporaryDirectory() as root:
        s = Sim(pathlib.Path(root), cpm_delay_ms=2000)
        try:
            yield s
        finally:
            s.stop()


def test_cpm_change_goes_through_in_process_to_success(slow_cpm_sim):
    sim = slow_cpm_sim

    async def go():
        async with vault(sim, aim=aim_config(sim)) as epv:
            acc_id = await account_id(epv, "Prod-DB", "payments-db")
            before = await epv.account.get_account(acc_id)
            old = await epv.account.get_password(acc_id, reason="before change")
            assert old == PLANTED

            assert await epv.account.change_password(acc_id) is True
            during = await epv.account.get_account(acc_id)
            assert during.cpm_status() == "inProcess"
            # The CCP says so too, and refuses when asked to fail during a change.
            _, detail = await epv.account.get_password_aim(safe="Prod-DB", object="payments-db", reason="during change")
            assert detail["PasswordChangeInProcess"] == "True"
            with pytest.raises(CyberarkAPIException) as err:
                await epv.account.get_password_aim(
                    safe="Prod-DB", object="payments-db", failrequestonpasswordchange="true"
                )
            assert err.value.err_code == "APPAP282E"

            deadline = time.monotonic() + 30
            after = during
            while after.cpm_status() == "inProcess":
                assert time.monotonic() < deadline, "the CPM change did not finish"
                await asyncio.sleep(0.1)
                after = await epv.account.get_account(acc_id)
            assert after.cpm_status() == "success"
            assert after.last_modified(days=False) >= before.last_modified(days=False)

            new = await epv.account.get_password(acc_id, reason="after change")
            assert new != old
            secret, detail = await epv.account.get_password_aim(safe="Prod-DB", object="payments-db")
            assert secret == new and detail["PasswordChangeInProcess"] == "False"

    run(go())


# --- safes and safe members -------------------------------------------------------------------


def test_list_safe_members(sim):
    async def go():
        async with vault(sim) as epv:
            members = await epv.safe.list_members("Prod-DB")
            assert set(members) == {
                "Administrator",
                "arkbridge",
                "arkbridge-svc",
                "arkbridge-safe-admin",
                "platform-admins",
            }
            assert await epv.safe.is_member_of("Prod-DB", "arkbridge")
            assert not await epv.safe.is_member_of("Prod-DB", "developers")
            assert set(await epv.safe.list_members("Prod-DB", filter_perm="retrieveAccounts")) == {
                "Administrator",
                "arkbridge",
                "platform-admins",
            }
            details = {m["username"]: m for m in await epv.safe.list_members("Prod-DB", details=True)}
            assert details["Administrator"]["profil"] == "Admin + Audit + Show + Change + Use"
            assert details["arkbridge"]["type"] == "User"
            perms = await epv.safe.get_permissions("Prod-DB", "arkbridge-svc")
            assert perms["listAccounts"] and perms["initiateCPMAccountManagementOperations"]
            assert not perms["retrieveAccounts"]
            # aiobastion spells the filter `MemberType eq group`.
            groups = await epv.safe.safe_members_paginate(safe_name="Prod-DB", member_type="group")
            assert [m["memberName"] for m in groups["members"]] == ["platform-admins"]
            assert groups["has_next_page"] is False
            page = await epv.safe.safe_members_paginate(safe_name="Prod-DB", size_of_page=2)
            assert len(page["members"]) == 2 and page["has_next_page"] is True

    run(go())


def test_add_update_and_remove_a_safe_member(sim):
    safe, member = "Dup-Safe", sim.info["pvwa_user"]
    svc = {"username": sim.info["pvwa_user"], "password": sim.info["pvwa_password"]}

    async def go():
        async with vault(sim) as epv, vault(sim, **svc) as other:
            assert not await epv.safe.is_member_of(safe, member)
            assert await other.account.search_account_by(safe=safe) == []
            try:
                added = await epv.safe.add_member(safe, member, listAccounts=True, retrieveAccounts=True, useAccounts=True)
                assert added["memberName"] == member and added["safeName"] == safe
                assert added["permissions"]["retrieveAccounts"] is True
                assert added["permissions"]["manageSafe"] is False
                assert await epv.safe.is_member_of(safe, member)

                # The new member sees and retrieves the safe's accounts.
                dup_a = await account_id(other, safe, "dup-a")
                assert await other.account.get_password(dup_a, reason="new member")

                with pytest.raises(CyberarkAPIException) as err:
                    await epv.safe.add_member(safe, member, listAccounts=True)
                assert (err.value.http_status, err.value.err_code) == (409, "SFWS0012")

                # aiobastion has no member update; its low-level request does it.
                updated = await epv.handle_request(
                    "put",
                    f"api/Safes/{safe}/Members/{member}/",
                    data={"permissions": {"listAccounts": True, "useAccounts": True}},
                )
                assert updated["permissions"]["retrieveAccounts"] is False
                assert (await epv.safe.get_permissions(safe, member))["retrieveAccounts"] is False
                with pytest.raises(CyberarkAPIException) as err:
                    await other.account.get_password(dup_a, reason="no longer allowed")
                assert err.value.err_code == "PASWS041E"
            finally:
                if await epv.safe.is_member_of(safe, member):
                    assert await epv.safe.remove_member(safe, member) is True
            assert not await epv.safe.is_member_of(safe, member)
            assert await other.account.search_account_by(safe=safe) == []

    run(go())


def test_add_member_with_a_profile(sim):
    safe, group = "Dup-Safe", "developers"

    async def go():
        async with vault(sim) as epv:
            try:
                # aiobastion's profiles use PascalCase Gen1-style keys.
                added = await epv.safe.add_member_profile(safe, group, "show")
                assert added["memberType"] == "Group"
                assert added["permissions"]["retrieveAccounts"] is True
                assert added["permissions"]["addAccounts"] is False
                members = await epv.safe.safe_members_paginate(safe_name=safe, member_type="group")
                assert [m["memberName"] for m in members["members"]] == [group]
            finally:
                if await epv.safe.is_member_of(safe, group):
                    await epv.safe.remove_member(safe, group)
            assert not await epv.safe.is_member_of(safe, group)

    run(go())


def test_list_search_and_get_safes(sim):
    async def go():
        async with vault(sim) as epv:
            names = await epv.safe.list()
            assert {"Prod-DB", "Prod-DB-RO", "Integrations", "Dup-Safe", "Locked-Safe"} <= set(names)
            found = await epv.safe.search("Prod-DB")
            assert sorted(s["safeName"] for s in found) == ["Prod-DB", "Prod-DB-RO"]
            assert await epv.safe.exists("Prod-DB")
            assert not await epv.safe.exists("No-Such-Safe")
            # aiohttp refuses a bool query value, so includeAccounts goes as a string.
            details = await epv.safe.get_safe_details("Prod-DB", include_accounts="true")
            assert details["safeName"] == "Prod-DB" and details["safeUrlId"] == "Prod-DB"
            assert [a["name"] for a in details["accounts"]] == ["payments-db"]
        # A user sees only the safes it is a member of.
        async with vault(sim, username=sim.info["pvwa_user"], password=sim.info["pvwa_password"]) as epv:
            assert "Locked-Safe" not in await epv.safe.list()
            assert not await epv.safe.exists("Locked-Safe")

    run(go())


def test_add_update_rename_and_delete_a_safe(sim):
    name, renamed = "Aiob-Conf-Safe", "Aiob-Conf-Renamed"

    async def go():
        async with vault(sim) as epv:
            try:
                # add() also makes "Vault Admins" and Administrator owners; Administrator created
                # the safe, so it already is one (409, which aiobastion turns into a warning).
                with pytest.warns(UserWarning):
                    created = await epv.safe.add(name, description="made by aiobastion")
                assert created["safeName"] == name and created["numberOfVersionsRetention"] == 10
                assert created["location"] == "\\"
                assert await epv.safe.exists(name)
                assert set(await epv.safe.list_members(name)) == {"Administrator", "Vault Admins"}
                with pytest.raises(CyberarkAPIException) as err:
                    await epv.safe.add(name, add_admins=False)
                assert (err.value.http_status, err.value.err_code) == (409, "SFWS0002")

                updated = await epv.safe.update(name, description="changed by aiobastion")
                assert updated["description"] == "changed by aiobastion"
                assert (await epv.safe.get_safe_details(name, include_accounts="false"))["description"] == (
                    "changed by aiobastion"
                )

                # rename() PUTs the whole safe object it found, with the new name.
                renamed_safe = await epv.safe.rename(name, renamed)
                assert renamed_safe["safeName"] == renamed
                assert not await epv.safe.exists(name)
                assert await epv.safe.exists(renamed)
            finally:
                for n in (name, renamed):
                    if await epv.safe.exists(n):
                        assert await epv.safe.delete(n) is True
            assert not await epv.safe.exists(name) and not await epv.safe.exists(renamed)

    run(go())


# --- AIM (the CCP) with the client certificate ------------------------------------------------


def test_aim_get_password_with_client_certificate(sim):
    async def go():
        epv = vault(sim, aim=aim_config(sim))
        try:
            secret, detail = await epv.account.get_password_aim(safe="Prod-DB", object="payments-db", reason="aim")
            assert secret == PLANTED
            assert detail["UserName"] == "payments" and detail["Address"] == "db.prod.example.com"
            assert detail["PasswordChangeInProcess"] == "False"
            assert await epv.AIM.get_secret(safe="Prod-DB-RO", username="payments_ro") == (
                await epv.AIM.get_secret(safe="Prod-DB-RO", object="payments-db-ro")
            )
            with pytest.raises(CyberarkAIMnotFound) as err:
                await epv.account.get_password_aim(safe="Prod-DB", object="no-such-account")
            assert (err.value.http_status, err.value.err_code) == (404, "APPAP004E")
            # get_secret_aim fills the secret of a PrivilegedAccount (None when not found).
            async with vault(sim) as admin:
                accounts = await admin.account.search_account_by(safe="Prod-DB")
            filled = await epv.account.get_secret_aim(accounts[0], reason="aim")
            assert filled.secret == PLANTED
            with pytest.raises(CyberarkAPIException) as err:
                await epv.AIM.get_secret(safe="Dup-Safe", username="dup")
            assert err.value.err_code == "APPAP227E"
        finally:
            await epv.close_session()

    run(go())


def test_logon_with_a_password_from_aim(sim):
    # aiobastion's login_with_aim: the PVWA user's password comes from the CCP first.
    async def go():
        epv = vault(sim, username=None, password=None)
        await epv.login_with_aim(
            aim_host=host(sim.info["ccp_url"]),
            appid=sim.info["app_id"],
            username=sim.info["pvwa_user"],
            cert_file=sim.info["client_cert"],
            cert_key=sim.info["client_key"],
            verify=sim.info["ca_cert"],
            user_search={"safe": "Integrations", "object": "pvwa-arkbridge-svc"},
        )
        try:
            assert "Prod-DB" in await epv.safe.list()
        finally:
            await epv.logoff()

    run(go())
