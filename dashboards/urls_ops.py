"""Staff screens of the dashboards app added for issue 4 (included under /ops/)."""

from django.urls import URLPattern, URLResolver, path

from dashboards import export_views, panel_views, report_views, wall_views

urlpatterns: list[URLPattern | URLResolver] = [
    path("panel/<str:code>/", panel_views.device_panel, name="ops-device-panel"),
    path("cameras/wall/", wall_views.camera_wall, name="ops-camera-wall"),
    path("cameras/wall/<str:code>.jpg", wall_views.wall_snapshot, name="ops-camera-wall-snapshot"),
    path("cameras/wall/export.csv", export_views.wall_export, name="ops-camera-wall-export"),
    path("reports/", report_views.reports, name="ops-reports"),
    path("reports/export.csv", export_views.report_export, name="ops-reports-export"),
    path("reports/units.csv", export_views.report_units_export, name="ops-reports-units-export"),
    path("alerts/export.csv", export_views.alerts_export, name="ops-alerts-export"),
    path("wards/export.csv", export_views.ward_list_export, name="ops-ward-list-export"),
    path(
        "wards/<str:code>/export.csv",
        export_views.ward_devices_export,
        name="ops-ward-devices-export",
    ),
]
