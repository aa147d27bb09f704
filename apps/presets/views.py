"""Preset pages and the playground's "Save preset" and "View code" dialogs.

The dialogs are Django forms (forms.py) rendered as partials: htmx loads one
into the page's <dialog>, posts it, and swaps it again with its errors beside
their fields; a post without htmx gets the same form inside a page.

Owner pages find the preset with `get_own_preset` (404 for anyone else);
a shared link is read by its token only and is read-only: open and fork.
"""

import json
import re
import uuid as uuidlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.catalog.templating import MissingVariable, render_body
from apps.htmx import is_htmx, partial_or_page

from .code import refusal, render_code, sent_body
from .draft import Draft, open_in_playground
from .forms import ImportForm, PlaygroundRequestForm, PresetNameForm, SavePresetForm
from .models import Preset
from .transfer import export_json

TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")


def get_own_preset(user, uuid):
    """A preset of this user's, or 404: someone else's preset is not there."""
    return get_object_or_404(Preset, uuid=uuid, owner=user)


def get_shared_preset(token):
    if not TOKEN.fullmatch(token):
        raise Http404
    return get_object_or_404(Preset.objects.shared(token))


def _save_dialog(request, form, preset=None, saved=None, status=200):
    """The Save preset dialog (a partial for htmx, inside a page otherwise)."""
    context = {"form": form, "preset": preset, "saved": saved}
    return partial_or_page(request, "presets/_save_dialog.html", "presets/save.html", context,
                           status=status)


def _saved(request, preset, version):
    if not is_htmx(request):
        messages.success(request, f"Saved {preset.name} (version {version.number}).")
        return redirect("presets:detail", preset.uuid)
    # The dialog stays open with a link to the preset; from now on it saves
    # new versions of this one.
    form = SavePresetForm(initial={"name": preset.name, "description": preset.description})
    return _save_dialog(request, form, preset=preset, saved=version)


# --- lists and pages -----------------------------------------------------------------


@login_required
def preset_list(request):
    presets = Preset.objects.for_user(request.user)
    return render(request, "presets/list.html", {"presets": presets})


def _detail_context(request, preset):
    share_url = (
        request.build_absolute_uri(reverse("presets:shared", args=[preset.share_token]))
        if preset.is_shared else ""
    )
    return {
        "preset": preset,
        "version": preset.latest,
        "versions": preset.versions.all(),
        "share_url": share_url,
        "owned": True,
        "name_form": PresetNameForm(initial={"name": preset.name,
                                             "description": preset.description}),
    }


@login_required
def detail(request, uuid):
    preset = get_own_preset(request.user, uuid)
    return render(request, "presets/detail.html", _detail_context(request, preset))


@login_required
def version_detail(request, uuid, number):
    preset = get_own_preset(request.user, uuid)
    version = preset.version(number)
    if version is None:
        raise Http404
    return render(request, "presets/detail.html", {
        **_detail_context(request, preset), "version": version,
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
    # The tool-call loop's saved results come along (studio's page shows them).
    draft = Draft(version.mode, version.model.uuid if version.model else "", version.body,
                  title=preset.name, tool_mocks=version.tool_mocks)
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
@require_http_methods(["GET", "POST"])
def create(request):
    """GET: the Save preset dialog (`?preset=<uuid>`: one of the user's presets
    the page was opened from, to offer a new version of it). POST: a new preset
    from the playground's form."""
    if request.method == "GET":
        preset = None
        if _uuid(request.GET.get("preset")):
            preset = get_own_preset(request.user, _uuid(request.GET["preset"]))
        initial = {"name": preset.name, "description": preset.description} if preset else {}
        return _save_dialog(request, SavePresetForm(initial=initial), preset=preset)
    form = SavePresetForm(request.POST)
    if not form.is_valid():
        return _save_dialog(request, form, status=400)
    d = form.cleaned_data
    preset = Preset.create(request.user, d["name"].strip(), d["description"].strip(), d["mode"],
                           d["model"], d["body"], tool_mocks=d["tool_mocks"])
    return _saved(request, preset, preset.latest)


@login_required
@require_POST
def save_version(request, uuid):
    """A new version of the preset from the playground's current form."""
    preset = get_own_preset(request.user, uuid)
    form = SavePresetForm(request.POST)
    if not form.is_valid():
        return _save_dialog(request, form, preset=preset, status=400)
    d = form.cleaned_data
    version = preset.add_version(d["name"].strip(), d["description"].strip(), d["mode"],
                                 d["model"], d["body"], tool_mocks=d["tool_mocks"])
    return _saved(request, preset, version)


@login_required
@require_POST
def edit(request, uuid):
    """A new version with a new name or description and the same form."""
    preset = get_own_preset(request.user, uuid)
    form = PresetNameForm(request.POST)
    if not form.is_valid():
        return render(request, "presets/detail.html", {
            **_detail_context(request, preset), "name_form": form,
        }, status=400)
    v = preset.latest
    version = preset.add_version(form.cleaned_data["name"].strip(),
                                 form.cleaned_data["description"].strip(), v.mode, v.model,
                                 v.body, model_name=v.model_name, tool_mocks=v.tool_mocks)
    messages.success(request, f"Saved {preset.name} (version {version.number}).")
    return redirect("presets:detail", preset.uuid)


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
@require_http_methods(["GET", "POST"])
def import_presets(request):
    """The import dialog (a partial for htmx, a page otherwise); every preset
    of the file is checked first, and if one is wrong nothing is imported."""
    form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
    if request.method == "POST" and form.is_valid():
        created = form.save(request.user)
        if created is not None:
            messages.success(
                request, f"Imported {len(created)} preset{'s' if len(created) != 1 else ''}."
            )
            if is_htmx(request):
                # Close the dialog and show the list with the new presets.
                response = HttpResponse(status=204)
                response["HX-Redirect"] = reverse("presets:list")
                return response
            return redirect("presets:list")
    status = 400 if request.method == "POST" else 200
    return partial_or_page(request, "presets/_import_dialog.html", "presets/import.html",
                           {"form": form}, status=status)


# --- view code ----------------------------------------------------------------------------


@login_required
@require_POST
def code(request):
    """The View code dialog: the playground's current form as curl, Python
    and JavaScript, or the errors that keep it from being a request."""
    try:
        form = PlaygroundRequestForm(_rendered(request.POST))
    except MissingVariable as e:
        # A template: the code is what a run would send, rendered.
        return render(request, "presets/_code_dialog.html", {"errors": [e.message]}, status=400)
    if not form.is_valid():
        return render(request, "presets/_code_dialog.html", {"errors": form.problems()},
                      status=400)
    mode, model, clean = (form.cleaned_data[k] for k in ("mode", "model", "body"))
    if problem := refusal(model, mode, {"model": model.upstream_id, **clean}):
        return render(request, "presets/_code_dialog.html", {"errors": [problem]}, status=400)
    # Exactly what a run of this form would send and store.
    body = sent_body(model, mode, {"model": model.upstream_id, **clean})
    snippets = render_code(body, mode, model, gateway_url=request.build_absolute_uri("/v1"))
    return render(request, "presets/_code_dialog.html", {"snippets": snippets})


def _rendered(post):
    """The posted playground form with its body rendered when the page sent
    template values (static/js/variables.js). Raises MissingVariable."""
    try:
        variables = json.loads(post.get("variables") or "null")
        body = json.loads(post.get("body") or "{}")
    except ValueError:
        return post
    if not isinstance(variables, dict) or not isinstance(body, dict):
        return post
    post = post.copy()
    post["body"] = json.dumps(render_body(body, variables))
    return post


def _uuid(value):
    try:
        return uuidlib.UUID(str(value))
    except ValueError:
        return None
