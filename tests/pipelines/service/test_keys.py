"""KeyStore: keys stored hashed, look-ups remembered only while the file is unchanged."""

from pipelines.service.keys import KeyStore


def test_a_key_revoked_by_another_process_is_refused_at_once(tmp_path):
    served = KeyStore(tmp_path / "keys.sqlite")
    assert not served.ever_held() and served.check("dk_anything") is None
    key_id, key = KeyStore(tmp_path / "keys.sqlite").create("desk", ["ask"], "acme")
    caller = served.check(key)
    assert caller is not None and caller.tenant == "acme" and served.check(key) == caller
    assert served.check("dk_unknown") is None
    # `docent keys revoke` runs in another process, with a store of its own.
    assert KeyStore(tmp_path / "keys.sqlite").revoke(key_id)
    assert served.check(key) is None, "the remembered look-up is dropped with the change"
    assert served.ever_held(), "a store that held a key stays closed"
