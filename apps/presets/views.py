"""Preset pages and the playground's "Save preset" and "View code" endpoints.

Owner pages find the preset with `get_own_preset` (404 for anyone else);
a shared link is read by its token only and is read-only: open and fork.
"""

import json
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST

from apps.catalog import ValidationFailed
from apps.catalog.templating import MissingVariable, render_body
from apps.providers.models import Model

from .code import render_code, sent_body
from .draft import Draft, open_in_playground
from .models import MODES, Preset, clean_body
from .transfer import MAX_IMPORT_BYTES, ImportRefused, export_json, import_document, parse

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def get_own_preset(user, uuid):
    """A preset of this user's, or 404: someone else's preset is not there."""
    return get_object_or_404(Preset, uuid=uuid, owner=user)


def get_shared_preset(token):
    if not TOKEN.fullmatch(token):
        raise Http404
    return get_object_or_404(Preset.objects.shared(token))


def _wants_json(request):
    return request.content_type == "application/json" or "application/json" in request.headers.get(
        "Accept", ""
    )


class Refused(Exception):
    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors  # [{"field", "message"}]


def _payload(request):
    """The posted form: JSON from the playground's script, or plain form
    fields (with `body` as JSON text) from a page without it."""
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            raise Refused([{"field": "body", "message": "the request is not valid JSON"}]) from None
        if not isinstance(data, dict):
            raise Refused([{"field": "body", "message": "the request must be a JSON object"}])
        return data
    data = {k: request.POST.get(k) for k in ("name", "description", "mode", "model")}
    try:
        data["body"] = json.loads(request.POST.get("body") or "{}")
    except ValueError:
        raise Refused([{"field": "body", "message": "body is not valid JSON"}]) from None
    return data


def _model_and_body(data):
    """The model and the clean body (without model) of a posted form."""
    mode = data.get("mode")
    if mode not in dict(MODES):
        raise Refused([{"field": "mode", "message": "mode must be completions or chat"}])
    model = (
        Model.objects.enabled().for_endpoint(mode).select_related("provider")
        .filter(uuid=_uuid(data.get("model"))).first()
    )
    if model is None:
        raise Refused([{"field": "model", "message": f"choose a model that serves {mode}"}])
    try:
        return mode, model, clean_body(mode, model, data.get("body"))
    except ValidationFailed as e:
        raise Refused([{"field": err.field, "message": err.message} for err in e.errors]) from None


def _uuid(value):
    import uuid

    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _name_and_description(data):
    name = data.get("name")
    description = data.get("description") or ""
    errors = []
    if not isinstance(name, str) or not name.strip():
        errors.append({"field": "name", "message": "give the preset a name"})
    elif len(name) > 200:
        errors.append({"field": "name", "message": "name must be at most 200 characters"})
    if not isinstance(description, str):
        errors.append({"field": "description", "message": "description must be text"})
    if errors:
        raise Refused(errors)
    return name.strip(), description.strip()


def _refused(request, errors):
    if _wants_json(request):
        return JsonResponse({"errors": errors}, status=400)
    return render(request, "presets/refused.html", {"errors": errors}, status=400)


def _saved(request, preset, version):
    url = reverse("presets:detail", args=[preset.uuid])
    if _wants_json(request):
        return JsonResponse(
            {"uuid": str(preset.uuid), "version": version.number, "name": preset.name, "url": url},
            status=201,
        )
    messages.success(request, f"Saved {preset.name} (version {version.number}).")
    return redirect(url)


# --- lists and pages -----------------------------------------------------------------


@login_required
def preset_list(request):
    presets = Preset.objects.for_user(request.user)
    return render(request, "presets/list.html", {"presets": presets})


@login_required
def detail(request, uuid):
    preset = get_own_preset(request.user, uuid)
    share_url = (
        request.build_absolute_uri(reverse("presets:shared", args=[preset.share_token]))
        if preset.is_shared else ""
    )
    return render(request, "presets/detail.html", {
        "preset": preset,
        "version": preset.latest,
        "versions": preset.versions.all(),
        "share_url": share_url,
        "owned": True,
    })


@login_required
def version_detail(request, uuid, number):
    preset = get_own_preset(request.user, uuid)
    version = preset.version(number)
    if version is None:
        raise Http404
    return render(request, "presets/detail.html", {
        "preset": preset, "version": version, "versions": preset.versions.all(), "owned": True,
        "old_version": version.number != preset.versions.count(),
    })


@login_required
def shared(request, token):
    preset = get_shared_preset(token)
    return render(request, "presets/shared.html", {
        "preset": preset, "version": preset.latest, "token": token,
        "owned": preset.owner_id == request.user.pk,
    })


def _open(request, preset, version):
    if version is None:
        raise Http404
    draft = Draft(version.mode, version.model.uuid if version.model else "", version.body,
                  title=preset.name)
    if preset.owner_id == request.user.pk:
        # The toolbar offers "save as a new version" of the preset it came from.
        request.opened_preset = preset
    return open_in_playground(request, draft)


@login_required
@require_GET
def open_preset(request, uuid):
    preset = get_own_preset(request.user, uuid)
    number = request.GET.get("v")
    version = preset.version(int(number)) if number and number.isdigit() else preset.latest
    return _open(request, preset, version)


@login_required
@require_GET
def open_shared(request, token):
    preset = get_shared_preset(token)
    return _open(request, preset, preset.latest)


# --- changes -------------------------------------------------------------------------


@login_required
@require_POST
def create(request):
    try:
        data = _payload(request)
        name, description = _name_and_description(data)
        mode, model, body = _model_and_body(data)
    except Refused as e:
        return _refused(request, e.errors)
    preset = Preset.create(request.user, name, description, mode, model, body)
    return _saved(request, preset, preset.latest)


@login_required
@require_POST
def save_version(request, uuid):
    """A new version of the preset from the playground's current form."""
    preset = get_own_preset(request.user, uuid)
    try:
        data = _payload(request)
        name, description = _name_and_description(data)
        mode, model, body = _model_and_body(data)
    except Refused as e:
        return _refused(request, e.errors)
    version = preset.add_version(name, description, mode, model, body)
    return _saved(request, preset, version)


@login_required
@require_POST
def edit(request, uuid):
    """A new version with a new name or description and the same form."""
    preset = get_own_preset(request.user, uuid)
    try:
        name, description = _name_and_description(request.POST)
    except Refused as e:
        return _refused(request, e.errors)
    v = preset.latest
    version = preset.add_version(name, description, v.mode, v.model, v.body,
                                 model_name=v.model_name)
    return _saved(request, preset, version)


@login_required
@require_POST
def share(request, uuid):
    preset = get_own_preset(request.user, uuid)
    if request.POST.get("action") == "stop":
        preset.unshare()
        messages.success(request, "The preset is private again; its old link no longer works.")
    else:
        had_link = preset.is_shared
        preset.share()
        messages.success(request, "New link: the old one no longer works." if had_link
                         else "Anyone signed in with the link can now read and fork this preset.")
    return redirect("presets:detail", preset.uuid)


@login_required
@require_POST
def fork(request, uuid):
    preset = get_own_preset(request.user, uuid)
    copy = preset.fork(request.user)
    messages.success(request, f"Forked into {copy.name}.")
    return redirect("presets:detail", copy.uuid)


@login_required
@require_POST
def fork_shared(request, token):
    preset = get_shared_preset(token)
    copy = preset.fork(request.user)
    messages.success(request, f"Forked into your presets as {copy.name}.")
    return redirect("presets:detail", copy.uuid)


@login_required
@require_POST
def delete(request, uuid):
    preset = get_own_preset(request.user, uuid)
    preset.delete()
    messages.success(request, f"Deleted {preset.name}.")
    return redirect("presets:list")


# --- export and import ------------------------------------------------------------------


def _download(content, filename):
    response = HttpResponse(content, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@login_required
@require_GET
def export_all(request):
    presets = Preset.objects.for_user(request.user).order_by("created")
    return _download(export_json(presets), "presets.json")


@login_required
@require_GET
def export_one(request, uuid):
    preset = get_own_preset(request.user, uuid)
    return _download(export_json([preset]), f"preset-{slugify(preset.name) or preset.uuid}.json")


@login_required
def import_presets(request):
    if request.method != "POST":
        return render(request, "presets/import.html", {})
    upload = request.FILES.get("file")
    try:
        if upload is None:
            raise ImportRefused(["choose a file to import"])
        if upload.size > MAX_IMPORT_BYTES:
            raise ImportRefused([f"the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB"])
        created = import_document(request.user, parse(upload.read()))
    except ImportRefused as e:
        return render(request, "presets/import.html", {"errors": e.errors}, status=400)
    messages.success(request, f"Imported {len(created)} preset{'s' if len(created) != 1 else ''}.")
    return redirect("presets:list")


# --- view code ----------------------------------------------------------------------------


@login_required
@require_POST
def code(request):
    """The current playground form as curl, Python and JavaScript."""
    try:
        data = _payload(request)
        if isinstance(data.get("variables"), dict) and isinstance(data.get("body"), dict):
            # A template: the code is what a run would send, rendered.
            try:
                data["body"] = render_body(data["body"], data["variables"])
            except MissingVariable as e:
                raise Refused([{"field": "variables", "message": e.message}]) from None
        mode, model, clean = _model_and_body(data)
    except Refused as e:
        if "application/json" in request.headers.get("Accept", ""):
            return JsonResponse({"errors": e.errors}, status=400)
        return render(request, "presets/_code.html", {"errors": e.errors}, status=400)
    # Exactly what a run of this form would send and store.
    body = sent_body(model, mode, {"model": model.upstream_id, **clean})
    snippets = render_code(body, mode, model, gateway_url=request.build_absolute_uri("/v1"))
    if "application/json" in request.headers.get("Accept", ""):
        return JsonResponse(snippets)
    return render(request, "presets/_code.html", {"snippets": snippets})
