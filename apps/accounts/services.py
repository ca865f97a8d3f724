from __future__ import annotations

from apps.accounts.models import User


def user_ensure(
    *, username: str, role: str, password: str, first_name: str = "", last_name: str = ""
) -> tuple[User, bool]:
    """Create the user if missing (returns it and whether it was created); never resets a password."""
    user, created = User.objects.get_or_create(
        username=username, defaults={"role": role, "first_name": first_name, "last_name": last_name}
    )
    if created:
        user.set_password(password)
        user.save()
    return user, created
