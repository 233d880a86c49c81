from schedules.management.commands.rebalance_schedules import GroupOperationCommand
from schedules.services.operations import groups_consolidate


class Command(GroupOperationCommand):
    help = (
        "Merge under-used batches of the matching schedule groups and retire the emptied ones "
        "(audited as group.consolidate, actor manage.py). --dry-run shows the moves without "
        "writing."
    )
    verb = "consolidate"
    operation = staticmethod(groups_consolidate)
