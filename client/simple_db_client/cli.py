"""`simpledb`: the command line of the Kybra Simple DB canister.

Exit codes: 0 ok; 2 usage error (bad arguments, unreadable files); 3 refused by the canister (an `Err`
or a reject); 4 network or transport failure (unreachable, HTTP error, bad certificate, timeout).
"""

from __future__ import annotations

import json
import sys
from itertools import islice
from pathlib import Path
from typing import Any

import click

from . import cli_output as out
from .cli_args import parse_assignments, parse_field_spec, parse_relation_spec
from .cli_queries import insert_rows, parse_where, read_rows
from .client import SimpleDB
from .codec import typedef_from_candid, typedef_from_dict, typedef_to_candid
from .dump_file import DumpFileError, export_dump, import_pages, page_entities, read_dump
from .errors import CanisterError, NotFound, RejectError, SimpleDBError, TransportError
from .models import Policy, TypeDef
from .principal import Principal

EXIT_USAGE, EXIT_REFUSED, EXIT_TRANSPORT = 2, 3, 4
DEFAULT_URL = "http://127.0.0.1:4943"


class Settings:
    """What the global options chose; builds the client on first use."""

    def __init__(
        self,
        url: str,
        canister_id: str | None,
        identity: str | None,
        local: bool,
        as_json: bool,
        force_root_key: bool = False,
    ):
        self.url, self.canister_id, self.identity_path = url, canister_id, identity
        self.local, self.as_json, self.force_root_key = local, as_json, force_root_key
        self._db: SimpleDB | None = None

    def db(self) -> SimpleDB:
        if self._db is None:
            if not self.canister_id:
                raise click.UsageError("no canister id: pass --canister-id or set SIMPLEDB_CANISTER_ID")
            try:
                canister = Principal.from_text(self.canister_id)
            except ValueError as exc:
                raise click.BadParameter(str(exc), param_hint="--canister-id") from exc
            try:
                from .identity import load_identity  # cryptography loads only when a command runs

                identity = load_identity(self.identity_path)
            except (OSError, ValueError) as exc:
                raise click.BadParameter(str(exc), param_hint="--identity") from exc
            self._db = SimpleDB(
                self.url,
                canister,
                identity,
                fetch_root_key=self.local,
                force_fetch_root_key=self.force_root_key,
            )
        return self._db


class SimpleDBGroup(click.Group):
    """Maps client exceptions to the documented exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (CanisterError, RejectError) as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_REFUSED)
        except TransportError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_TRANSPORT)
        except SimpleDBError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(EXIT_TRANSPORT)


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.find_object(Settings).as_json = True


def json_option(command):
    """Every command also accepts --json after its name."""
    return click.option(
        "--json", is_flag=True, expose_value=False, callback=_set_json, help="Print JSON instead of text."
    )(command)


def emit(ctx: click.Context, data: Any, text: str) -> None:
    """Print `text`, or `data` as JSON when --json was given."""
    click.echo(out.dumps(data) if ctx.find_object(Settings).as_json else text)


def typedef_for(db: SimpleDB, type_name: str) -> TypeDef:
    typedef = db.type(type_name)
    if typedef is None:
        raise click.BadParameter(f"unknown type {type_name!r} (see `simpledb schema`)", param_hint="TYPE")
    return typedef


@click.group(cls=SimpleDBGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar="SIMPLEDB_URL",
    default=DEFAULT_URL,
    show_default=True,
    help="IC HTTP endpoint [env SIMPLEDB_URL].",
)
@click.option(
    "--canister-id", envvar="SIMPLEDB_CANISTER_ID", help="The database canister [env SIMPLEDB_CANISTER_ID]."
)
@click.option(
    "--identity",
    envvar="SIMPLEDB_IDENTITY",
    default=None,
    help="PEM file (icp/dfx identity export) or seed-phrase file; anonymous if unset [env SIMPLEDB_IDENTITY]",
)
@click.option(
    "--local",
    is_flag=True,
    envvar="SIMPLEDB_LOCAL",
    help="Trust the root key the network reports (local networks only) [env SIMPLEDB_LOCAL].",
)
@click.option(
    "--force-root-key",
    is_flag=True,
    envvar="SIMPLEDB_FORCE_ROOT_KEY",
    help="With a non-loopback --url, trust the root key it reports anyway (unsafe; warns).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of tables.")
@click.version_option(package_name="kybra-simple-db-service")
@click.pass_context
def cli(
    ctx: click.Context,
    url: str,
    canister_id: str | None,
    identity: str | None,
    local: bool,
    force_root_key: bool,
    as_json: bool,
) -> None:
    """Use a Kybra Simple DB canister from the shell."""
    ctx.obj = Settings(url, canister_id, identity, local, as_json, force_root_key)


# identity and administration


@cli.command()
@json_option
@click.pass_context
def whoami(ctx: click.Context) -> None:
    """Print your principal as the canister sees it."""
    principal = ctx.obj.db().whoami()
    emit(ctx, {"principal": principal}, str(principal))


@cli.group(invoke_without_command=True)
@json_option
@click.pass_context
def admins(ctx: click.Context) -> None:
    """List the admins; `admins add P` / `admins remove P` change them (admins only)."""
    if ctx.invoked_subcommand is None:
        principals = ctx.obj.db().admins()
        emit(ctx, principals, out.table(["admin"], [[p] for p in principals]))


@admins.command("add")
@json_option
@click.argument("principal")
@click.pass_context
def admins_add(ctx: click.Context, principal: str) -> None:
    """Make PRINCIPAL an admin."""
    ctx.obj.db().add_admin(_principal(principal))
    emit(ctx, {"added_admin": principal}, f"added admin {principal}")


@admins.command("remove")
@json_option
@click.argument("principal")
@click.pass_context
def admins_remove(ctx: click.Context, principal: str) -> None:
    """Remove PRINCIPAL from the admins."""
    ctx.obj.db().remove_admin(_principal(principal))
    emit(ctx, {"removed_admin": principal}, f"removed admin {principal}")


def _principal(text: str) -> Principal:
    try:
        return Principal.from_text(text)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="PRINCIPAL") from exc


@cli.command()
@json_option
@click.pass_context
def stats(ctx: click.Context) -> None:
    """Entities per type, audit length and the stable-memory estimate."""
    result = ctx.obj.db().stats()
    rows = [[name, count] for name, count in result.types.items()]
    text = out.table(["type", "entities"], rows) + (
        f"\n\nentities: {result.entities}  audit entries: {result.audit_length}  "
        f"stable memory (estimate): {result.stable_memory_bytes} bytes"
    )
    emit(ctx, result, text)


# schema


@cli.command("define-type")
@json_option
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", help="Qualified type name, e.g. app::User.")
@click.option(
    "--field",
    "fields",
    multiple=True,
    help="NAME=KIND[,required][,indexed][,min=N][,max=N][,default=V]; repeat per field.",
)
@click.option("--alias", help="A unique Text field usable with `find`.")
@click.option(
    "--relation", "relations", multiple=True, help="NAME=KIND,TARGET,REVERSE[,ON_DELETE]; repeatable."
)
@click.option("--read", "read_access", default="Public", show_default=True, help="Public | Owner | Admins")
@click.option("--create", "create_access", default="Anyone", show_default=True, help="Anyone | Admins")
@click.option("--modify", "modify_access", default="Owner", show_default=True, help="Owner | Admins")
@click.option("--delete", "delete_access", default="Owner", show_default=True, help="Owner | Admins")
@click.option("--force", is_flag=True, help="Allow destructive changes to an existing type.")
@click.pass_context
def define_type(
    ctx: click.Context,
    file: Path | None,
    name: str | None,
    fields: tuple[str, ...],
    alias: str | None,
    relations: tuple[str, ...],
    read_access: str,
    create_access: str,
    modify_access: str,
    delete_access: str,
    force: bool,
) -> None:
    """Create or change types (admins only), from a JSON/YAML FILE (one type or a list) or from flags."""
    if file is not None and (name or fields or alias or relations):
        raise click.UsageError("give either FILE or --name/--field/... flags, not both")
    if file is not None:
        typedefs = _typedefs_from_file(file)
    elif name:
        typedef = TypeDef(
            name=name,
            fields=[parse_field_spec(f) for f in fields],
            alias=alias,
            relations=[parse_relation_spec(r) for r in relations],
            policy=Policy(read_access, create_access, modify_access, delete_access),
        )
        try:
            typedef = typedef_from_candid(typedef_to_candid(typedef))
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from exc
        typedefs = [typedef]
    else:
        raise click.UsageError("give a FILE or --name")
    db = ctx.obj.db()
    for typedef in typedefs:
        db.define_type(typedef, force=force)
        emit(ctx, {"defined": typedef.name}, f"defined {typedef.name}")


def _typedefs_from_file(file: Path) -> list[TypeDef]:
    import yaml  # only this command reads YAML

    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise click.BadParameter(f"cannot read {file}: {exc}", param_hint="FILE") from exc
    items = data if isinstance(data, list) else [data]
    try:
        return [typedef_from_dict(item) for item in items]
    except ValueError as exc:
        raise click.BadParameter(f"{file}: {exc}", param_hint="FILE") from exc


@cli.command()
@click.argument("type_name", required=False)
@json_option
@click.pass_context
def schema(ctx: click.Context, type_name: str | None) -> None:
    """Show every type, or one TYPE in detail."""
    db = ctx.obj.db()
    if type_name:
        typedef = typedef_for(db, type_name)
        emit(ctx, typedef, out.type_details(typedef))
    else:
        types = db.schema()
        emit(ctx, types, out.schema_table(types))


# data


@cli.command()
@click.argument("type_name", metavar="TYPE")
@click.argument("assignments", nargs=-1, metavar="[FIELD=VALUE | FIELD:=JSON]...")
@json_option
@click.pass_context
def create(ctx: click.Context, type_name: str, assignments: tuple[str, ...]) -> None:
    """Create an entity of TYPE; print it."""
    db = ctx.obj.db()
    entity = db.create(type_name, parse_assignments(assignments, typedef_for(db, type_name)))
    emit(ctx, entity, out.entity_details(entity))


@cli.command()
@click.argument("type_name", metavar="TYPE")
@click.argument("entity_id", metavar="ID", type=click.IntRange(min=0))
@click.option("--verify", is_flag=True, help="Read it certified and check the proof (certified types).")
@json_option
@click.pass_context
def get(ctx: click.Context, type_name: str, entity_id: int, verify: bool) -> None:
    """Print the entity TYPE #ID."""
    if not verify:
        entity = ctx.obj.db().get(type_name, entity_id)
        emit(ctx, entity, out.entity_details(entity))
        return
    entity = ctx.obj.db().get_certified(type_name, entity_id)
    if entity is None:
        raise NotFound(f"{type_name} {entity_id} does not exist (absence verified)")
    emit(ctx, entity, out.entity_details(entity) + "\nverified: certified by the subnet")


@cli.command()
@click.argument("type_name", metavar="TYPE")
@click.argument("alias")
@json_option
@click.pass_context
def find(ctx: click.Context, type_name: str, alias: str) -> None:
    """Print the entity of TYPE whose alias field is ALIAS."""
    entity = ctx.obj.db().find(type_name, alias)
    emit(ctx, entity, out.entity_details(entity))


@cli.command()
@click.argument("type_name", metavar="TYPE")
@click.argument("entity_id", metavar="ID", type=click.IntRange(min=0))
@click.argument("assignments", nargs=-1, metavar="[FIELD=VALUE | FIELD:=JSON]...")
@click.option(
    "--expected-version", type=click.IntRange(min=0), help="Refuse (Conflict) if the version differs."
)
@json_option
@click.pass_context
def update(
    ctx: click.Context,
    type_name: str,
    entity_id: int,
    assignments: tuple[str, ...],
    expected_version: int | None,
) -> None:
    """Change fields of TYPE #ID; print the entity."""
    db = ctx.obj.db()
    fields = parse_assignments(assignments, typedef_for(db, type_name))
    entity = db.update(type_name, entity_id, fields, expected_version=expected_version)
    emit(ctx, entity, out.entity_details(entity))


@cli.command()
@click.argument("type_name", metavar="TYPE")
@click.argument("entity_id", metavar="ID", type=click.IntRange(min=0))
@json_option
@click.pass_context
def delete(ctx: click.Context, type_name: str, entity_id: int) -> None:
    """Delete TYPE #ID."""
    ctx.obj.db().delete(type_name, entity_id)
    emit(ctx, {"deleted": {"type": type_name, "id": entity_id}}, f"deleted {type_name} #{entity_id}")


@cli.command("delete-continue")
@click.argument("type_name", metavar="TYPE")
@click.argument("entity_id", metavar="ID", type=click.IntRange(min=0))
@json_option
@click.pass_context
def delete_continue(ctx: click.Context, type_name: str, entity_id: int) -> None:
    """One more step of your delete of TYPE #ID whose cascade goes on across messages (exit 3 when none
    of yours is under way: it finished, or was never started by you)."""
    progress = ctx.obj.db().delete_continue(type_name, entity_id)
    state = "done" if progress["done"] else f"{progress['pending']} pending"
    emit(ctx, progress, f"{type_name} #{entity_id}: {state}, {progress['deleted']} deleted")


@cli.command()
@click.argument("type_name", metavar="TYPE")
@click.argument("entity_id", metavar="ID", type=click.IntRange(min=0))
@click.argument("new_owner", metavar="PRINCIPAL")
@json_option
@click.pass_context
def transfer(ctx: click.Context, type_name: str, entity_id: int, new_owner: str) -> None:
    """Give TYPE #ID to PRINCIPAL."""
    entity = ctx.obj.db().transfer(type_name, entity_id, _principal(new_owner))
    emit(ctx, entity, out.entity_details(entity))


def _link_command(name: str, verb: str):
    @cli.command(name, help=f"{verb.capitalize()} TYPE #ID and TARGET_ID through RELATION.")
    @json_option
    @click.argument("type_name", metavar="TYPE")
    @click.argument("entity_id", metavar="ID", type=click.IntRange(min=0))
    @click.argument("relation")
    @click.argument("target_id", type=click.IntRange(min=0))
    @click.pass_context
    def command(ctx: click.Context, type_name: str, entity_id: int, relation: str, target_id: int) -> None:
        getattr(ctx.obj.db(), name)(type_name, entity_id, relation, target_id)
        data = {"type": type_name, "id": entity_id, "relation": relation, "target_id": target_id}
        emit(ctx, {f"{verb}ed": data}, f"{verb}ed {type_name} #{entity_id} {relation} #{target_id}")

    return command


link = _link_command("link", "link")
unlink = _link_command("unlink", "unlink")


@cli.command()
@click.argument("type_name", metavar="TYPE")
@click.argument("entity_id", metavar="ID", type=click.IntRange(min=0))
@click.argument("relation")
@json_option
@click.pass_context
def links(ctx: click.Context, type_name: str, entity_id: int, relation: str) -> None:
    """List the ids linked to TYPE #ID through RELATION."""
    ids = list(ctx.obj.db().links(type_name, entity_id, relation))
    emit(ctx, ids, out.table([relation], [[i] for i in ids]))


@cli.command("list")
@click.argument("type_name", metavar="TYPE")
@click.argument("filters", nargs=-1, metavar="[FIELD=VALUE]...")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many entities.")
@click.option("--page-size", type=click.IntRange(1, 100), default=100, show_default=True)
@click.option("--verify", is_flag=True, help="Read certified pages and check each is complete (no filters).")
@json_option
@click.pass_context
def list_(
    ctx: click.Context,
    type_name: str,
    filters: tuple[str, ...],
    limit: int | None,
    page_size: int,
    verify: bool,
) -> None:
    """List entities of TYPE, optionally filtered by indexed fields."""
    db = ctx.obj.db()
    if verify and filters:
        raise click.UsageError("--verify lists a whole type: filters are not certified")
    where = parse_assignments(filters, typedef_for(db, type_name)) if filters else None
    entities = []
    if verify:
        pages = db.list_certified(type_name, page_size)
    else:
        pages = db.list(type_name, where, page_size=page_size)
    for entity in pages:
        entities.append(entity)
        if limit is not None and len(entities) >= limit:
            break
    note = f"\nverified: {len(entities)} entities, pages proven complete" if verify else ""
    emit(ctx, entities, out.entity_table(entities) + note)


@cli.command()
@click.argument("type_name", metavar="TYPE")
@click.argument("filters", nargs=-1, metavar="[FIELD=VALUE]...")
@json_option
@click.pass_context
def count(ctx: click.Context, type_name: str, filters: tuple[str, ...]) -> None:
    """Count entities of TYPE, optionally filtered by indexed fields."""
    db = ctx.obj.db()
    where = parse_assignments(filters, typedef_for(db, type_name)) if filters else None
    number = db.count(type_name, where)
    emit(ctx, {"type": type_name, "count": number}, str(number))


@cli.command()
@click.argument("type_name", metavar="TYPE")
@click.option(
    "--where",
    "conditions",
    multiple=True,
    metavar="COND",
    help="A filter, e.g. 'age>=18', 'name^=An', 'city in Oslo,Paris', 'age between 18,30'.",
)
@click.option("--order", help="An indexed field (or id) to order by; '-field' for descending.")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many entities.")
@click.option("--page-size", type=click.IntRange(1, 100), default=100, show_default=True)
@json_option
@click.pass_context
def query(
    ctx: click.Context,
    type_name: str,
    conditions: tuple[str, ...],
    order: str | None,
    limit: int | None,
    page_size: int,
) -> None:
    """List entities of TYPE matching every --where condition, in --order."""
    db = ctx.obj.db()
    typedef = typedef_for(db, type_name)
    where = [parse_where(condition, typedef) for condition in conditions]
    found = db.query(type_name, where, order, page_size=min(page_size, limit or page_size))
    entities = list(islice(found, limit))
    emit(ctx, entities, out.entity_table(entities))


@cli.command()
@click.argument("type_name", metavar="TYPE")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["jsonl", "json", "csv"]),
    help="The file's format (default: from its name, else JSON Lines or a JSON array).",
)
@click.option("--batch-size", type=click.IntRange(1, 100), default=100, show_default=True)
@click.option("--upsert", is_flag=True, help="Update the entity with the same alias value.")
@json_option
@click.pass_context
def insert(
    ctx: click.Context, type_name: str, file: Path, file_format: str | None, batch_size: int, upsert: bool
) -> None:
    """Create entities of TYPE from FILE (JSON Lines, a JSON array or CSV), in all-or-nothing batches."""
    db = ctx.obj.db()
    typedef = typedef_for(db, type_name)
    try:
        rows = read_rows(file, file_format)
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(str(exc), param_hint="FILE") from exc
    written = insert_rows(db, typedef, rows, batch_size, upsert)
    emit(ctx, {"type": type_name, "rows": written}, f"inserted {written} rows into {type_name}")


@cli.command()
@click.argument("first", metavar="[FROM]", required=False, type=click.IntRange(min=0))
@click.argument("last", metavar="[TO]", required=False, type=click.IntRange(min=0))
@click.option("--from", "start", type=click.IntRange(min=0), default=0, show_default=True, help="First seq.")
@click.option("--to", "end", type=click.IntRange(min=0), help="Stop before this seq.")
@click.option("--limit", type=click.IntRange(min=1), help="Show at most this many entries.")
@click.option(
    "--verify", is_flag=True, help="Read the ICRC-3 blocks (admins) and check the chain to the certified tip."
)
@click.option("--tail", type=click.IntRange(min=1), help="Show the newest N matching entries, newest first.")
@click.option("--type", "type_name", help="Only entries of this type.")
@click.option("--id", "entity_id", type=click.IntRange(min=1), help="Only entries of this entity id.")
@click.option("--caller", help="Only entries made by this principal.")
@json_option
@click.pass_context
def audit(
    ctx: click.Context, first: int | None, last: int | None, start: int, end: int | None, limit: int | None,
    verify: bool, tail: int | None, type_name: str | None, entity_id: int | None, caller: str | None,
) -> None:
    """Show the audit log: who changed what, when (FROM and TO as --from and --to; --tail and the
    filters read it newest first)."""
    start = start if first is None else first
    end = end if last is None else last
    if tail is not None or type_name is not None or entity_id is not None or caller is not None:
        entries = ctx.obj.db().audit_tail(
            tail or limit or 20, type_name, entity_id, None if caller is None else _principal(caller)
        )
        emit(ctx, entries, out.audit_table(entries))
        return
    if verify:
        entries = ctx.obj.db().audit_verified(start, end)[:limit]
        summary = f"verified: {len(entries)} entries chained to the certified tip"
        emit(ctx, entries, out.audit_table(entries) + "\n" + summary)
        return
    entries = []
    for entry in ctx.obj.db().audit(start, end):
        entries.append(entry)
        if limit is not None and len(entries) >= limit:
            break
    emit(ctx, entries, out.audit_table(entries))


# export and import


@cli.command("export")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path))
@click.option("--page-size", type=click.IntRange(1, 100), default=100, show_default=True)
@click.pass_context
def export(ctx: click.Context, file: Path, page_size: int) -> None:
    """Write the whole database to FILE (JSON Lines; - for stdout)."""
    db = ctx.obj.db()
    if str(file) == "-":
        export_dump(db, sys.stdout, page_size)
        return
    from tqdm import tqdm

    with (
        tqdm(unit=" entity", desc="export", disable=None, file=sys.stderr) as bar,
        open(file, "w", encoding="utf-8") as handle,
    ):
        entities = export_dump(db, handle, page_size, on_page=bar.update)
    click.echo(f"exported {entities} entities to {file}", err=True)


cli.add_command(export, "dump")


@cli.command("import")
@json_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--skip-existing",
    is_flag=True,
    help="Leave out entities whose ids the canister already holds (resume an interrupted import).",
)
@click.pass_context
def import_(ctx: click.Context, file: Path, skip_existing: bool) -> None:
    """Restore an export FILE into the canister (admins only), with a progress bar."""
    try:
        _, pages = read_dump(file)
    except (OSError, UnicodeDecodeError, DumpFileError) as exc:
        raise click.BadParameter(str(exc), param_hint="FILE") from exc
    db = ctx.obj.db()
    total = sum(page_entities(data) for data in pages)
    skipped = 0

    def skip(count: int) -> None:
        nonlocal skipped
        skipped += count
        bar.update(count)

    from tqdm import tqdm

    with tqdm(total=total, unit=" entity", desc="import", disable=None, file=sys.stderr) as bar:
        restored = import_pages(db, pages, on_page=bar.update, skip_existing=skip_existing, on_skip=skip)
    summary = {"entities": restored, "skipped": skipped, "pages": len(pages)}
    click.echo(
        json.dumps(summary)
        if ctx.obj.as_json
        else f"imported {restored} entities"
        + (f" ({skipped} already present, skipped)" if skip_existing else "")
        + f" from {len(pages)} pages"
    )


def main() -> None:
    cli(prog_name="simpledb")


if __name__ == "__main__":
    main()
