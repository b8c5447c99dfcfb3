"""Signal handlers: cache invalidation only (house rule 7)."""

from typing import Any

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from ioc.geo import ward_changed_in_transaction
from ioc.models import Ward


@receiver(post_save, sender=Ward, dispatch_uid="ioc.ward_saved")
@receiver(post_delete, sender=Ward, dispatch_uid="ioc.ward_deleted")
def ward_changed(sender: type[Ward], **kwargs: Any) -> None:
    """Rebuild point-in-ward indexes everywhere once a ward change has committed (an index
    rebuilt from a transaction that then rolls back would keep answering with its data)."""
    ward_changed_in_transaction()
