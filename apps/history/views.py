from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, render

from .models import Run


def get_own_run(user, uuid):
    """A run of this user's, or 404: someone else's run is not there."""
    return get_object_or_404(Run.objects.select_related("conversation"), uuid=uuid, owner=user)


@login_required
def run_list(request):
    runs = Run.objects.for_user(request.user).select_related("conversation").defer(
        "request", "response"
    )
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    return render(request, "history/run_list.html", {"page": page})


@login_required
def run_detail(request, uuid):
    run = get_own_run(request.user, uuid)
    return render(request, "history/run_detail.html", {"run": run})
