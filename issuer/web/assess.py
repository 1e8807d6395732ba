"""The assessors' workspace at ``/assess/``: sign in, award one or many, see and manage what
was issued, and (admins) manage accounts and read the audit log.

Plain HTML forms. Every POST carries the session's CSRF token in ``csrf_token``; a form
without it is refused with 400 before anything changes. Sessions live in the database (the
cookie holds only a random token), so signing out, a password reset or disabling an account
ends them at once.

A one-time password (a new account's, or after a reset) signs in once; that session is shut
out of every page but "choose your password" and signing out until the assessor has chosen
one.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    stream_with_context,
    url_for,
)
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse

from issuer import bulk as bulk_module
from issuer import issued as issued_module
from issuer.assessors import Principal, SignInThrottled
from issuer.audit import AuditLog
from issuer.awarding import select_statements
from issuer.bulk import BulkService, JobRunner
from issuer.digits import whole_number
from issuer.errors import Conflict, Forbidden, InvalidInput, IssuerError, NotFound, Unauthorized
from issuer.frameworks import Template
from issuer.issuance import parse_award_request
from issuer.web import services

blueprint = Blueprint("assess", __name__, url_prefix="/assess")

# Endpoints reachable without signing in.
_PUBLIC_ENDPOINTS = frozenset({"assess.login"})
# What a session made with a one-time password may reach before a password is chosen.
_ONE_TIME_ENDPOINTS = frozenset({"assess.choose_password", "assess.logout"})
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class Workspace:
    audit: AuditLog
    bulk: BulkService
    runner: JobRunner


def workspace() -> Workspace:
    result: Workspace = current_app.extensions["assess"]
    return result


def init_app(app: Flask) -> None:
    """Build the workspace's services from the app's and register the blueprint."""
    core = app.extensions["issuer"]
    audit = core.audit
    bulk = BulkService(
        core.db,
        core.catalog,
        core.award,
        core.assessors,
        audit,
        max_rows=app.config["BULK_MAX_ROWS"],
        max_bytes=app.config["BULK_MAX_BYTES"],
    )
    app.extensions["assess"] = Workspace(audit=audit, bulk=bulk, runner=JobRunner(bulk))
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.register_blueprint(blueprint)


def csrf_token() -> str:
    """The session's CSRF token, made on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def principal() -> Principal:
    signed_in: Principal = g.principal
    return signed_in


def address() -> str:
    return request.remote_addr or ""


def admin_only(view: F) -> F:
    """Admins only; anyone else gets 404, so the admin pages do not reveal themselves."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not principal().is_admin:
            raise NotFound("not_found", "There is no such page.")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@blueprint.before_request
def _guard() -> BaseResponse | None:
    if request.endpoint == "assess.bulk_upload":
        # CSV files may be larger than JSON bodies; the form is read below, so set it first.
        request.max_content_length = current_app.config["BULK_MAX_BYTES"]
    if request.method == "POST":
        _check_csrf()
    g.principal = None
    token = session.get("sid")
    if isinstance(token, str):
        try:
            g.principal = services().assessors.session_principal(token)
        except Unauthorized:
            session.pop("sid", None)
    if g.principal is None and request.endpoint not in _PUBLIC_ENDPOINTS:
        next_path = request.full_path if request.method == "GET" else url_for("assess.home")
        return redirect(url_for("assess.login", next=next_path.rstrip("?")))
    if (
        g.principal is not None
        and g.principal.must_change_password
        and request.endpoint not in _ONE_TIME_ENDPOINTS
    ):
        return redirect(url_for("assess.choose_password"))
    return None


def _check_csrf() -> None:
    """Raises BadRequest unless the form's token is the session's and the post came from
    this site."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        raise BadRequest("This form was sent from another site and has been refused.")
    try:
        sent = request.form.get("csrf_token", "")
    except RequestEntityTooLarge:
        # The upload view shows its own message; the token cannot be read, so refuse.
        raise
    expected = session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(
        sent.encode("utf-8"), expected.encode("utf-8")
    ):
        raise BadRequest(
            "The form has expired or did not come from this site. Reload the page and try again."
        )


@blueprint.errorhandler(RequestEntityTooLarge)
def _too_large(_error: RequestEntityTooLarge) -> tuple[str, int]:
    limit = current_app.config["BULK_MAX_BYTES"] // 1024
    return (
        render_template(
            "assess/message.html",
            title="File too large",
            message=f"The file is larger than {limit} KiB. Split it into smaller files.",
            back=url_for("assess.bulk_page"),
        ),
        413,
    )


@blueprint.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int] | str:
    next_path = _safe_next(request.values.get("next", ""))
    if g.principal is not None and request.method == "GET":
        return redirect(next_path)
    if request.method == "GET":
        return render_template("assess/login.html", next=next_path, errors=[], email="")
    email = request.form.get("email", "").strip()
    try:
        signed_in = services().assessors.sign_in(
            email, request.form.get("password", ""), address=address()
        )
    except SignInThrottled as error:
        page = render_template(
            "assess/login.html", next=next_path, errors=[error.message], email=email
        )
        response = Response(page, status=429)
        response.headers["Retry-After"] = str(error.retry_after)
        return response
    except Unauthorized as error:
        return (
            render_template(
                "assess/login.html", next=next_path, errors=[error.message], email=email
            ),
            401,
        )
    # A fresh session and CSRF token at sign-in, so that no token from before carries over.
    session.clear()
    session["sid"] = services().assessors.start_session(signed_in.id)
    session["csrf"] = secrets.token_urlsafe(32)
    workspace().audit.record(
        signed_in.email, "session.signed_in", signed_in.email, address=address()
    )
    if signed_in.must_change_password:
        return redirect(url_for("assess.choose_password"))
    return redirect(next_path)


@blueprint.route("/choose-password", methods=["GET", "POST"])
def choose_password() -> BaseResponse | tuple[str, int] | str:
    """The first page after signing in with a one-time password, and the only one open."""
    who = principal()
    if not who.must_change_password:
        return redirect(url_for("assess.account"))
    if request.method == "GET":
        return render_template("assess/choose_password.html", errors=[])
    new = request.form.get("new_password", "")
    try:
        if new != request.form.get("confirm_password", ""):
            raise InvalidInput(
                "password_confirmation_differs", "The new password and its confirmation differ."
            )
        services().assessors.choose_password(who, new)
    except (InvalidInput, Forbidden) as error:
        return render_template("assess/choose_password.html", errors=[error.message]), 422
    workspace().audit.record(who.email, "account.password_chosen", who.email, address=address())
    # Choosing the password ended every session; start a new one for this browser.
    session["sid"] = services().assessors.start_session(who.id)
    flash("Your password is set. Use it from now on.")
    return redirect(url_for("assess.home"))


def _safe_next(path: str) -> str:
    # Only a path inside the workspace: never another host, so sign-in cannot be used to
    # send people elsewhere, and nothing that cannot go in a Location header (a line break
    # would make the redirect fail after the session was made).
    parts = urlsplit(path)
    if (
        parts.scheme
        or parts.netloc
        or not parts.path.startswith("/assess/")
        or "\\" in path
        or not path.isprintable()
    ):
        return url_for("assess.home")
    return path


@blueprint.post("/logout")
def logout() -> BaseResponse:
    token = session.get("sid")
    if isinstance(token, str):
        services().assessors.end_session(token)
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("assess.login"))


@blueprint.get("/")
def home() -> str:
    return render_template(
        "assess/home.html",
        levels=_allowed_levels(principal()),
        jobs=workspace().bulk.recent_jobs(principal(), limit=5),
    )


def _allowed_levels(who: Principal) -> list[tuple[str, Template]]:
    catalog = services().catalog
    levels = []
    for framework in catalog.frameworks():
        for template in catalog.levels(framework.slug):
            achievement = f"{framework.slug}/{template.level_slug}"
            if who.may_award(achievement):
                levels.append((achievement, template))
    return levels


def _template_for(achievement: str) -> Template:
    """The template of a level the signed-in assessor may award; NotFound otherwise."""
    framework, _, level = achievement.partition("/")
    template = services().catalog.get(framework, level)
    if not principal().may_award(achievement):
        raise NotFound("achievement_not_found", f"There is no achievement {achievement}.")
    return template


@blueprint.get("/award")
def award_form() -> str:
    achievement = request.args.get("achievement", "")
    if not achievement:
        return render_template("assess/choose_level.html", levels=_allowed_levels(principal()))
    template = _template_for(achievement)
    count = len(template["achievement"]["resultDescription"])
    return _render_award(
        achievement,
        template,
        form={"statements": [str(n) for n in range(1, count + 1)]},
        errors=[],
    )


def _render_award(
    achievement: str,
    template: Template,
    *,
    form: dict[str, Any],
    errors: list[str],
    preview: dict[str, Any] | None = None,
) -> str:
    return render_template(
        "assess/award.html",
        achievement=achievement,
        template=template,
        statements=template["achievement"]["resultDescription"],
        form=form,
        errors=errors,
        preview=preview,
        award_key=form.get("award_key") or secrets.token_urlsafe(16),
    )


@blueprint.post("/award")
def award_submit() -> BaseResponse | tuple[str, int] | str:
    achievement = request.form.get("achievement", "")
    template = _template_for(achievement)
    form = _award_form_values(template)
    if request.form.get("action") == "edit":
        # "Change something" after a preview: the full form again, filled in.
        return _render_award(achievement, template, form=form, errors=[])
    award_request = award_request_from_form(achievement, template, form)
    try:
        parsed = parse_award_request(award_request)
        select_statements(template, parsed.statements)
    except InvalidInput as error:
        return _render_award(achievement, template, form=form, errors=[_plain(error)]), 422
    if request.form.get("action") == "preview":
        return _render_award(
            achievement, template, form=form, errors=[], preview=_preview(template, parsed)
        )
    who = principal()
    try:
        issued = services().award(
            who,
            award_request,
            f"web:{form['award_key']}",
            actor=who.email,
            address=address(),
            details={"via": "web"},
        )
    except (InvalidInput, Conflict) as error:
        return _render_award(achievement, template, form=form, errors=[_plain(error)]), 422
    except Forbidden as error:
        raise NotFound(
            "achievement_not_found", f"There is no achievement {achievement}."
        ) from error
    return render_template(
        "assess/awarded.html",
        issued=issued,
        page_url=f"{services().base_url}/credentials/{issued.id}",
        email=parsed.recipient_email,
        achievement=achievement,
    )


def _award_form_values(template: Template) -> dict[str, Any]:
    count = len(template["achievement"]["resultDescription"])
    form: dict[str, Any] = {
        "name": request.form.get("name", "").strip(),
        "email": request.form.get("email", "").strip(),
        "valid_until": request.form.get("valid_until", "").strip(),
        "statements": request.form.getlist("statement"),
        "award_key": request.form.get("award_key", "")[:64] or secrets.token_urlsafe(16),
    }
    for number in range(1, count + 1):
        form[f"narrative_{number}"] = request.form.get(f"narrative_{number}", "").strip()
        form[f"url_{number}"] = request.form.get(f"url_{number}", "").strip()
    return form


def award_request_from_form(
    achievement: str, template: Template, form: dict[str, Any]
) -> dict[str, Any]:
    """The same award request the JSON API takes, built from the award form.

    Raises InvalidInput ``statement_invalid`` and ``valid_until_invalid``.
    """
    count = len(template["achievement"]["resultDescription"])
    numbers = []
    for value in form["statements"]:
        number = whole_number(value, max_digits=6)
        if number is None or not 1 <= number <= count:
            raise InvalidInput("statement_invalid", "A ticked statement does not exist.")
        numbers.append(number)
    recipient = {"email": form["email"]}
    if form["name"]:
        recipient["name"] = form["name"]
    award_request: dict[str, Any] = {
        "achievement": achievement,
        "recipient": recipient,
        "statements": sorted({number - 1 for number in numbers}),
    }
    evidence = []
    for number in sorted(set(numbers)):
        item = {"name": f"Statement {number}"}
        if form.get(f"narrative_{number}"):
            item["narrative"] = form[f"narrative_{number}"]
        if form.get(f"url_{number}"):
            item["url"] = form[f"url_{number}"]
        if len(item) > 1:
            evidence.append(item)
    if evidence:
        award_request["evidence"] = evidence
    if form["valid_until"]:
        try:
            day = date.fromisoformat(form["valid_until"])
        except ValueError:
            raise InvalidInput(
                "valid_until_invalid", "The expiry date must be a date such as 2030-12-31."
            ) from None
        # The credential is good through the whole of that day (UTC).
        award_request["validUntil"] = f"{day.isoformat()}T23:59:59Z"
        if datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=UTC) <= datetime.now(UTC):
            raise InvalidInput("valid_until_invalid", "The expiry date is in the past.")
    return award_request


def _plain(error: IssuerError) -> str:
    plain = {
        "email_invalid": "Enter the earner's e-mail address, like name@example.org.",
        "evidence_url_invalid": "Evidence links must be web addresses starting with https://.",
        "request_invalid": "A field is too long or holds characters that are not allowed.",
    }
    return plain.get(error.code, error.message)


def _preview(template: Template, parsed: Any) -> dict[str, Any]:
    descriptions = template["achievement"]["resultDescription"]
    chosen = select_statements(template, parsed.statements)
    return {
        "achievement_name": template["achievement"]["name"],
        "recipient_name": parsed.recipient_name or "",
        "statements": [descriptions[index]["name"] for index in chosen],
        "evidence": parsed.evidence,
        "valid_until": parsed.valid_until,
        "issuer_name": services().issuer_profile.name,
    }


@blueprint.get("/issued")
def issued_list() -> tuple[str, int] | str:
    errors = []
    try:
        criteria = issued_module.parse_search(request.args.to_dict())
    except InvalidInput as error:
        errors.append(error.message)
        criteria = issued_module.AwardSearch()
    result = issued_module.search(services().db, principal(), criteria)
    arguments = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "assess/issued.html",
        result=result,
        criteria=criteria,
        arguments=arguments,
        errors=errors,
        levels=_allowed_levels(principal()),
    ), (422 if errors else 200)


@blueprint.post("/issued/<credential_id>/revoke")
def revoke(credential_id: str) -> BaseResponse:
    who = principal()
    if request.form.get("confirm") != "yes":
        # Revoking cannot be undone: the form asks for a tick, and so does the server.
        flash("Nothing was revoked: tick “I understand this cannot be undone” first.", "error")
        return redirect(_back_to_list())
    try:
        revoked = services().revoke(
            credential_id,
            request.form.get("reason", ""),
            by=who,
            actor=who.email,
            address=address(),
            details={"via": "web"},
        )
    except InvalidInput as error:
        flash(error.message, "error")
        return redirect(_back_to_list())
    except Conflict as error:
        flash(error.message, "error")
        return redirect(_back_to_list())
    flash(f"Credential {revoked.id} is revoked.")
    return redirect(_back_to_list())


@blueprint.post("/issued/<credential_id>/resend")
def resend(credential_id: str) -> BaseResponse:
    who = principal()
    issued = services().issuance.get(credential_id)
    if not who.may_award(issued.achievement):
        raise NotFound("credential_not_found", "There is no such credential.")
    email = _recipient_email(credential_id)
    services().mail.resend_award(issued, email)
    workspace().audit.record(who.email, "award.email_resent", credential_id, address=address())
    flash(f"The e-mail to {email} is on its way.")
    return redirect(_back_to_list())


def _recipient_email(credential_id: str) -> str:
    found = issued_module.recipient_email(services().db, credential_id)
    if found is None:
        raise NotFound("credential_not_found", "There is no such credential.")
    return found


def _back_to_list() -> str:
    return (
        _safe_next(request.form.get("back", ""))
        if request.form.get("back")
        else url_for("assess.issued_list")
    )


@blueprint.get("/bulk")
def bulk_page() -> str:
    return render_template(
        "assess/bulk.html",
        errors=[],
        columns=bulk_module.COLUMNS,
        max_rows=workspace().bulk.max_rows,
        max_kib=workspace().bulk.max_bytes // 1024,
        jobs=workspace().bulk.recent_jobs(principal()),
    )


@blueprint.get("/bulk/example.csv")
def bulk_example() -> Response:
    return Response(
        bulk_module.EXAMPLE_CSV,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="awards-example.csv"'},
    )


@blueprint.post("/bulk")
def bulk_upload() -> BaseResponse | tuple[str, int]:
    upload = request.files.get("file")
    status = 422
    try:
        if upload is None or not upload.filename:
            raise InvalidInput("csv_missing", "Choose a CSV file to upload.")
        job_id, _ = workspace().bulk.create_job(
            principal(), upload.filename, upload.read(), address=address()
        )
    except InvalidInput as error:
        if error.code == "csv_too_large":
            status = 413
        return render_template(
            "assess/bulk.html",
            errors=[error.message],
            columns=bulk_module.COLUMNS,
            max_rows=workspace().bulk.max_rows,
            max_kib=workspace().bulk.max_bytes // 1024,
            jobs=workspace().bulk.recent_jobs(principal()),
        ), status
    return redirect(url_for("assess.bulk_job", job_id=job_id))


@blueprint.get("/bulk/<job_id>")
def bulk_job(job_id: str) -> str:
    progress = workspace().bulk.progress(principal(), job_id)
    if progress.status in (bulk_module.QUEUED, bulk_module.RUNNING):
        # Resume work a stopped process left behind: any worker that serves the page may.
        workspace().runner.kick()
    problems = workspace().bulk.job_rows(principal(), job_id, problems_only=True)
    return render_template("assess/bulk_job.html", progress=progress, problems=problems)


@blueprint.post("/bulk/<job_id>/start")
def bulk_start(job_id: str) -> BaseResponse:
    who = principal()
    workspace().bulk.start(who, job_id)
    workspace().runner.kick()
    return redirect(url_for("assess.bulk_job", job_id=job_id))


@blueprint.get("/bulk/<job_id>/progress.json")
def bulk_progress(job_id: str) -> dict[str, Any]:
    progress = workspace().bulk.progress(principal(), job_id)
    if progress.status in (bulk_module.QUEUED, bulk_module.RUNNING):
        workspace().runner.kick()
    return progress.as_json()


@blueprint.get("/bulk/<job_id>/result.csv")
def bulk_result(job_id: str) -> Response:
    lines = workspace().bulk.result_csv(principal(), job_id, services().base_url)
    first = next(lines)  # Raises NotFound before the response starts.
    return Response(
        stream_with_context(_chain(first, lines)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="awards-{job_id}.csv"'},
    )


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest


@blueprint.get("/account")
def account() -> str:
    who = principal()
    return render_template(
        "assess/account.html",
        tokens=services().assessors.list_tokens(who.id),
        new_token=None,
        errors=[],
    )


@blueprint.post("/account/password")
def change_password() -> BaseResponse | tuple[str, int]:
    who = principal()
    new = request.form.get("new_password", "")
    errors = []
    if new != request.form.get("confirm_password", ""):
        errors.append("The new password and its confirmation differ.")
    else:
        try:
            services().assessors.change_password(who, request.form.get("current_password", ""), new)
        except (InvalidInput, Unauthorized) as error:
            errors.append(error.message)
    if errors:
        return render_template(
            "assess/account.html",
            tokens=services().assessors.list_tokens(who.id),
            new_token=None,
            errors=errors,
        ), 422
    workspace().audit.record(who.email, "account.password_changed", who.email, address=address())
    # Changing the password ended every session; start a new one for this browser.
    session["sid"] = services().assessors.start_session(who.id)
    flash("Your password is changed. Other sessions were signed out.")
    return redirect(url_for("assess.account"))


@blueprint.post("/account/tokens")
def create_token() -> tuple[str, int] | str:
    who = principal()
    return _create_token_for(who.id, who.email, "assess/account.html")


@blueprint.post("/account/tokens/<int:token_id>/revoke")
def revoke_own_token(token_id: int) -> BaseResponse:
    who = principal()
    revoked = services().assessors.revoke_token(who.id, token_id)
    workspace().audit.record(
        who.email, "token.revoked", f"{who.email} token {revoked.id}", address=address()
    )
    flash(f"The token “{revoked.label}” is revoked.")
    return redirect(url_for("assess.account"))


def _create_token_for(assessor_id: int, owner: str, page: str) -> tuple[str, int] | str:
    who = principal()
    context: dict[str, Any] = {}
    if page == "assess/admin_assessor.html":
        context = _admin_assessor_context(assessor_id)
    try:
        token, secret = services().assessors.create_token(
            assessor_id, request.form.get("label", "")
        )
    except InvalidInput as error:
        return render_template(
            page,
            tokens=services().assessors.list_tokens(assessor_id),
            new_token=None,
            errors=[error.message],
            **context,
        ), 422
    workspace().audit.record(
        who.email,
        "token.created",
        f"{owner} token {token.id}",
        address=address(),
        details={"label": token.label},
    )
    return render_template(
        page,
        tokens=services().assessors.list_tokens(assessor_id),
        new_token=(token, secret),
        errors=[],
        **context,
    )


@blueprint.get("/admin/assessors")
@admin_only
def admin_assessors() -> str:
    return _render_admin_assessors(errors=[], created=None)


def _render_admin_assessors(
    *, errors: list[str], created: Any, form: dict[str, Any] | None = None
) -> str:
    return render_template(
        "assess/admin_assessors.html",
        assessors=services().assessors.list_assessors(),
        levels=_allowed_levels(principal()),
        errors=errors,
        created=created,
        form=form or {},
    )


@blueprint.post("/admin/assessors")
@admin_only
def admin_create_assessor() -> tuple[str, int] | str:
    form: dict[str, Any] = {
        "email": request.form.get("email", "").strip(),
        "name": request.form.get("name", "").strip(),
        "levels": request.form.getlist("level"),
        "all_levels": request.form.get("all_levels") == "on",
        "is_admin": request.form.get("is_admin") == "on",
    }
    known = {achievement for achievement, _ in _allowed_levels(principal())}
    try:
        if not form["email"]:
            raise InvalidInput("email_invalid", "Enter the assessor's e-mail address.")
        unknown = [level for level in form["levels"] if level not in known]
        if unknown:
            raise InvalidInput("level_unknown", f"There is no level {unknown[0]}.")
        if not form["levels"] and not form["all_levels"] and not form["is_admin"]:
            raise InvalidInput("levels_missing", "Tick the levels this assessor may award.")
        created = services().assessors.add(
            form["email"],
            name=form["name"] or None,
            levels=form["levels"],
            all_levels=form["all_levels"],
            is_admin=form["is_admin"],
        )
    except (InvalidInput, Conflict) as error:
        return _render_admin_assessors(errors=[error.message], created=None, form=form), 422
    workspace().audit.record(
        principal().email,
        "account.created",
        created.principal.email,
        address=address(),
        details={
            "levels": sorted(created.principal.levels),
            "allLevels": created.principal.all_levels,
            "admin": created.principal.is_admin,
        },
    )
    return _render_admin_assessors(errors=[], created=created)


def _admin_assessor_context(assessor_id: int) -> dict[str, Any]:
    found = [a for a in services().assessors.list_assessors() if a.id == assessor_id]
    if not found:
        raise NotFound("assessor_not_found", "There is no such assessor.")
    return {"assessor": found[0], "new_password": None}


@blueprint.get("/admin/assessors/<int:assessor_id>")
@admin_only
def admin_assessor(assessor_id: int) -> str:
    return render_template(
        "assess/admin_assessor.html",
        tokens=services().assessors.list_tokens(assessor_id),
        new_token=None,
        errors=[],
        **_admin_assessor_context(assessor_id),
    )


@blueprint.post("/admin/assessors/<int:assessor_id>/reset-password")
@admin_only
def admin_reset_password(assessor_id: int) -> str:
    context = _admin_assessor_context(assessor_id)
    password = services().assessors.reset_password(assessor_id)
    workspace().audit.record(
        principal().email, "account.password_reset", context["assessor"].email, address=address()
    )
    context["new_password"] = password
    return render_template(
        "assess/admin_assessor.html",
        tokens=services().assessors.list_tokens(assessor_id),
        new_token=None,
        errors=[],
        **context,
    )


@blueprint.post("/admin/assessors/<int:assessor_id>/disabled")
@admin_only
def admin_set_disabled(assessor_id: int) -> BaseResponse:
    context = _admin_assessor_context(assessor_id)
    disabled = request.form.get("disabled") == "true"
    if disabled and assessor_id == principal().id:
        flash("You cannot disable your own account.", "error")
        return redirect(url_for("assess.admin_assessor", assessor_id=assessor_id))
    services().assessors.set_disabled(assessor_id, disabled)
    workspace().audit.record(
        principal().email,
        "account.disabled" if disabled else "account.enabled",
        context["assessor"].email,
        address=address(),
    )
    flash("The account is disabled." if disabled else "The account is enabled again.")
    return redirect(url_for("assess.admin_assessor", assessor_id=assessor_id))


@blueprint.post("/admin/assessors/<int:assessor_id>/tokens")
@admin_only
def admin_create_token(assessor_id: int) -> tuple[str, int] | str:
    context = _admin_assessor_context(assessor_id)
    return _create_token_for(assessor_id, context["assessor"].email, "assess/admin_assessor.html")


@blueprint.post("/admin/assessors/<int:assessor_id>/tokens/<int:token_id>/revoke")
@admin_only
def admin_revoke_token(assessor_id: int, token_id: int) -> BaseResponse:
    context = _admin_assessor_context(assessor_id)
    revoked = services().assessors.revoke_token(assessor_id, token_id)
    workspace().audit.record(
        principal().email,
        "token.revoked",
        f"{context['assessor'].email} token {revoked.id}",
        address=address(),
    )
    flash(f"The token “{revoked.label}” is revoked.")
    return redirect(url_for("assess.admin_assessor", assessor_id=assessor_id))


@blueprint.get("/admin/audit")
@admin_only
def admin_audit() -> str:
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    actor = request.args.get("actor", "").strip()
    action = request.args.get("action", "").strip()
    result = workspace().audit.browse(actor=actor, action=action, page=page)
    return render_template("assess/admin_audit.html", result=result, actor=actor, action=action)


@blueprint.get("/admin/audit.csv")
@admin_only
def admin_audit_csv() -> Response:
    return Response(
        stream_with_context(workspace().audit.export_csv()),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-log.csv"'},
    )
