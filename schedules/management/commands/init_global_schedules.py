from scheduler_project.cli import SchedulerCommand
from schedules.models import ScheduleGroup
from schedules.services.assignment import schedule_groups_init
from schedules.services.system_schedules import system_periodic_tasks_ensure


class Command(SchedulerCommand):
    help = (
        "Create the standard global schedule groups (platform × scrape type × tier interval) "
        "and the dispatcher's periodic tasks. Idempotent: running it again creates nothing."
    )

    def handle(self, *args: object, **options: object) -> None:
        created = schedule_groups_init()
        tasks = system_periodic_tasks_ensure()
        standard = ScheduleGroup.objects.filter(is_standard=True).count()
        self.stdout.write(
            self.style.SUCCESS(
                f"{created} schedule groups created ({standard} standard groups in all); "
                f"{len(tasks)} periodic tasks in place."
            )
        )
