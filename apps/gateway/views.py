"""The page where users manage their gateway keys."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from .models import GatewayKey


@login_required
@require_http_methods(["GET", "POST"])
def keys(request):
    """List the user's keys; POST creates one and shows its secret, once."""
    secret = None
    if request.method == "POST":
        name = " ".join(request.POST.get("name", "").split())[:100]
        if not name:
            messages.error(request, "Give the key a name, e.g. what will use it.")
            return redirect("gateway:keys")
        _, secret = GatewayKey.create(request.user, name)
    context = {
        "keys": GatewayKey.objects.for_user(request.user),
        "secret": secret,
        "api_base": request.build_absolute_uri("/v1"),
    }
    response = render(request, "gateway/keys.html", context)
    if secret:
        # Rendered in the POST's answer, never stored anywhere to show later;
        # and no cache may keep the page that holds it.
        response["Cache-Control"] = "no-store"
    return response


@login_required
@require_POST
def revoke(request, uuid):
    key = get_object_or_404(GatewayKey, uuid=uuid, owner=request.user)
    key.revoke()
    messages.success(request, f"Revoked {key.prefix}… ({key.name}). Scripts using it now get 401.")
    return redirect("gateway:keys")
