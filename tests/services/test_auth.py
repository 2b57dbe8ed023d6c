"""AuthService: password and device login, tokens, expiry, revocation, rate limits."""

from __future__ import annotations

from meetingd.app import Parts


async def test_argon2_cost_comes_from_the_config(parts: Parts) -> None:
    # The test config asks for the cheapest parameters; the hash must say so.
    hashed = await parts.services.auth.passwords.hash("một mật khẩu dài")
    assert "$m=8,t=1,p=1$" in hashed
    assert await parts.services.auth.passwords.verify(hashed, "một mật khẩu dài")
