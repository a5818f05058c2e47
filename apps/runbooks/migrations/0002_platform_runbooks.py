from django.db import migrations


def create(apps, schema_editor):
    from apps.runbooks.platform_runbooks import RUNBOOKS

    Runbook = apps.get_model("runbooks", "Runbook")
    Revision = apps.get_model("runbooks", "RunbookRevision")
    for slug, title, body in RUNBOOKS:
        if Runbook.objects.filter(model__isnull=True, slug=slug).exists():
            continue
        book = Runbook.objects.create(slug=slug, title=title, body=body, revision=1)
        Revision.objects.create(runbook=book, number=1, title=title, body=body, summary="Initial version")


def remove(apps, schema_editor):
    from apps.runbooks.platform_runbooks import RUNBOOKS

    apps.get_model("runbooks", "Runbook").objects.filter(model__isnull=True,
                                                         slug__in=[s for s, _, _ in RUNBOOKS]).delete()


class Migration(migrations.Migration):
    dependencies = [("runbooks", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
