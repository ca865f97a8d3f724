from django.http import HttpRequest

from apps.accounts.permissions import Capabilities, capabilities_for


def capabilities(request: HttpRequest) -> dict[str, Capabilities]:
    return {"can": capabilities_for(request.user)}
