"""The side panel and the camera wall end to end: a real ASGI server and Celery worker on
PostgreSQL and Redis, cameras answering with real JPEGs from a small HTTP server in the
test (and live video from the simulator's RTSP server, through the server's relay), and
Debian's chromium (Playwright) at a phone's and a wall screen's size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cameras.choices import DeviceKind, DeviceStatus, StreamProtocol
from cameras.models import CameraDetail, Device, ViewingSession
from cameras.services.registry import token_issue
from ioc.choices import AlertKind, Severity
from ioc.models import Alert
from tests.support import (
    OWN_WARD,
    Stack,
    example_device,
    open_dashboard,
    outside_loop,
    push,
    shot,
    wait_for,
)
from tests.support.video import simulated_cameras, snapshot_server

pytestmark = [pytest.mark.integration, pytest.mark.browser]

PHONE = {"width": 390, "height": 844}
WALL = {"width": 1920, "height": 1080}


@pytest.fixture
def wall_stack(stack: Stack) -> Iterator[dict[str, Any]]:
    """Four cameras of one ward answering snapshots (one offline, one with an open alert),
    a token to make another fail live, the server and a worker; read before the browser."""
    with snapshot_server() as cameras_url:
        cameras = list(
            Device.objects.filter(
                ward__code=OWN_WARD, kind=DeviceKind.CAMERA, gateway__isnull=False
            ).order_by("code")[:4]
        )
        assert len(cameras) == 4
        for camera in cameras:
            CameraDetail.objects.filter(device=camera).update(
                snapshot_url=f"{cameras_url}/{camera.code}.jpg",
                stream_protocol=StreamProtocol.RTSP,
                stream_main_url="rtsp://10.0.0.9:554/main",
            )
        Device.objects.filter(pk__in=[c.pk for c in cameras]).update(status=DeviceStatus.ONLINE)
        Device.objects.filter(pk=cameras[0].pk).update(status=DeviceStatus.OFFLINE)
        watched = cameras[2]
        alert = Alert.objects.create(
            ward=watched.ward,
            device=watched,
            kind=AlertKind.FAULT,
            cause="test:panel",
            severity=Severity.CRITICAL,
            title="Camera bị che khuất",
        )
        token = token_issue(owner=cameras[1].gateway, actor_label="test")
        url = stack.server()
        stack.worker()
        yield {
            "url": url,
            "codes": [c.code for c in cameras],
            "offline": cameras[0].code,
            "failing": cameras[1].code,
            "watched": watched.code,
            "lat": float(watched.latitude),
            "lon": float(watched.longitude),
            "alert": alert.pk,
            "token": token,
        }


def click_marker(page: Any, code: str, lat: float, lon: float) -> None:
    """Zoom the map onto a device and click its marker where it is drawn."""
    page.evaluate(
        "([lat, lon]) => { document.querySelector('[data-dashboard-map]').iocMap"
        ".setView([lat, lon], 19, { animate: false }); }",
        [lat, lon],
    )
    page.wait_for_timeout(300)
    point = page.evaluate(
        """(code) => {
            const el = document.querySelector('[data-dashboard-map]');
            const marker = window.iocDashboard.markers.get(code);
            const p = el.iocMap.latLngToContainerPoint(marker.getLatLng());
            const box = el.getBoundingClientRect();
            return { x: box.left + p.x, y: box.top + p.y };
        }""",
        code,
    )
    page.mouse.click(point["x"], point["y"])


def test_operator_acknowledges_an_alert_in_the_side_panel(
    wall_stack: dict[str, Any], browser: Any
) -> None:
    base, code, alert = wall_stack["url"], wall_stack["watched"], wall_stack["alert"]
    for name, viewport in (("wall", WALL), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport)
        page = open_dashboard(context, base)
        page.evaluate("() => { window.__noReload = true; }")
        if name == "wall":
            click_marker(page, code, wall_stack["lat"], wall_stack["lon"])
        else:  # on a phone the map is small: search opens the same panel
            page.fill("#device-search", code)
            page.press("#device-search", "Enter")
        page.wait_for_selector(f"[data-panel-live][data-device='{code}'][data-ready=true]")
        item = page.locator(f"[data-device-panel] [data-alert='{alert}']")
        assert "Camera bị che khuất" in item.inner_text()
        page.wait_for_function(
            "() => document.querySelector('[data-device-panel] [data-device-image]')"
            ".naturalWidth > 0"
        )
        if name == "wall":
            acknowledge = item.locator("button", has_text="Tiếp nhận")
            acknowledge.click()
            # The panel shows the new state from the server, and the feed hears it live.
            page.wait_for_function(
                """(id) => {
                    const li = document.querySelector(`[data-device-panel] [data-alert='${id}']`);
                    const buttons = li ? [...li.querySelectorAll('button')] : [];
                    return li && li.innerText.includes("Đã tiếp nhận")
                        && !buttons.some((b) => b.innerText === "Tiếp nhận");
                }""",
                arg=alert,
                timeout=15000,
            )
            assert "Đã cập nhật cảnh báo" in page.locator("[data-panel-message]").inner_text()
            page.wait_for_function(
                "id => window.iocDashboard.alerts.get(id)?.status === 'acknowledged'",
                arg=alert,
                timeout=15000,
            )
        page.locator("[data-device-panel]").scroll_into_view_if_needed()
        shot(page, f"ops-panel-{name}")
        assert page.evaluate("() => window.__noReload") is True
        assert page.errors == []
        if name == "wall":
            # "Open an incident" is a plain form (its CSRF token set on submit): the browser
            # goes to the new incident, and the alert stays open, linked to it.
            item.locator("[data-testid=open-incident]").click()
            page.wait_for_url(f"{base}/ops/incidents/*/")
            assert "Camera bị che khuất" in page.locator("main").inner_text()
        else:
            # Resolving takes a note; the alert leaves the panel, which says so.
            assert item.locator("[data-testid=alert-incident]").count() == 1
            item.locator("input[name=note]").fill("Đã lau ống kính")
            item.locator("button", has_text="Đóng cảnh báo").click()
            page.wait_for_selector(
                f"[data-device-panel] [data-alert='{alert}']", state="detached", timeout=15000
            )
            alerts = page.locator("[data-device-panel] [data-panel-part=alerts]").inner_text()
            assert "Không có cảnh báo chưa xử lý." in alerts
            assert "Đã cập nhật cảnh báo" in page.locator("[data-panel-message]").inner_text()
            assert page.errors == []
        context.close()


def test_camera_wall_shows_snapshots_and_marks_offline_cameras_live(
    wall_stack: dict[str, Any], browser: Any
) -> None:
    base, codes = wall_stack["url"], wall_stack["codes"]
    for name, viewport in (("wall", WALL), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport)
        page = open_dashboard(context, base)
        page.click("nav.mainnav >> text=Tường camera")
        page.wait_for_url(f"{base}/ops/cameras/wall/")
        page.goto(f"{base}/ops/cameras/wall/?codes={','.join(codes)}&grid=2")
        page.wait_for_selector("[data-live-status][data-state=live]", timeout=20000)
        assert page.locator("[data-tile]").count() == 4
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-wall-image]')]"
            ".every((img) => img.complete && img.naturalWidth === 640)",
            timeout=15000,
        )
        # The placeholder that stood in for each image until it arrived is gone.
        page.wait_for_function(
            "() => [...document.querySelectorAll('[data-wall-loading]')].every((l) => l.hidden)",
            timeout=5000,
        )
        offline = page.locator(f"[data-tile='{wall_stack['offline']}']")
        assert "down" in offline.get_attribute("class")
        assert offline.locator("[data-wall-status]").inner_text() == "Mất kết nối"
        if name == "wall":
            failing = wall_stack["failing"]
            push(base, wall_stack["token"], failing, "fault", {"code": "tamper"})
            page.wait_for_selector(f"[data-tile='{failing}'].down.status-fault", timeout=20000)
            # Visible tiles refresh with a new cache-busting address.
            first = page.locator(f"[data-tile='{codes[3]}'] [data-wall-image]")
            before = first.get_attribute("src")
            page.wait_for_function(
                "([code, src]) => document.querySelector(`[data-tile='${code}'] [data-wall-image]`)"
                ".getAttribute('src') !== src",
                arg=[codes[3], before],
                timeout=15000,
            )
            link = page.locator(f"[data-tile='{codes[3]}'] a").get_attribute("href")
            assert link == f"/ops/devices/{codes[3]}/"
        shot(page, f"ops-wall-{name}")
        assert page.errors == []
        context.close()


def test_a_snapshot_that_settled_before_the_script_is_reported_at_once(
    stack: Stack, browser: Any
) -> None:
    """A wall tile whose first image failed (or arrived) before the page's script ran is
    marked at once, not left as a dark frame until the next refresh (refreshImage)."""
    base = stack.server()
    context = browser.new_context(viewport=WALL)
    page = open_dashboard(context, base)
    page.goto(f"{base}/ops/cameras/wall/")
    states = page.evaluate(
        """async () => {
            const wall = document.querySelector('script[src*="wall.js"]').src;
            const { refreshImage } = await import(new URL("../cameras/snapshots.js", wall));
            const settled = async (src) => {
                const img = new Image();
                await new Promise((done) => {
                    img.onload = img.onerror = done;
                    img.src = src;
                });
                const heard = [];
                const stop = refreshImage(img, { seconds: 3600, onState: (f) => heard.push(f) });
                stop();
                return heard;
            };
            const broken = await settled(new URL("../no-such-snapshot.jpg", wall).href);
            const good = await settled(new URL("../leaflet/images/marker-icon.png", wall).href);
            return { broken, good };
        }"""
    )
    assert states["broken"] == [True]
    assert states["good"] == [False]
    assert page.errors == []
    context.close()


@pytest.fixture
def kinds_stack(stack: Stack) -> dict[str, Any]:
    """A sensor that pushes readings, an HLS camera, a traffic signal; read before the
    browser starts."""
    sensor = (
        Device.objects.filter(
            kind=DeviceKind.SENSOR, gateway__isnull=False, thresholds__isnull=False
        )
        .select_related("gateway")
        .prefetch_related("thresholds")
        .order_by("code")
        .first()
    )
    assert sensor is not None
    metric = sensor.thresholds.all()[0].metric
    camera = CameraDetail.objects.select_related("device").order_by("device__code").first()
    assert camera is not None
    CameraDetail.objects.filter(pk=camera.pk).update(  # HLS only: no RTSP for the relay
        stream_protocol=StreamProtocol.HLS,
        stream_main_url="http://127.0.0.1:9/live/index.m3u8",
        stream_sub_url="",
    )
    signal = Device.objects.filter(kind=DeviceKind.SIGNAL).order_by("code").first()
    assert signal is not None
    token = token_issue(owner=sensor.gateway, actor_label="test")
    url = stack.server()
    stack.worker()
    return {
        "url": url,
        "sensor": sensor.code,
        "metric": metric,
        "token": token,
        "camera": camera.device.code,
        "signal": signal.code,
    }


def open_panel(page: Any, code: str) -> None:
    page.fill("#device-search", code)
    page.press("#device-search", "Enter")
    page.wait_for_selector(f"[data-panel-live][data-device='{code}'][data-ready=true]")


def test_panel_charts_readings_live_plays_hls_and_sends_signal_commands(
    kinds_stack: dict[str, Any], browser: Any
) -> None:
    base = kinds_stack["url"]
    context = browser.new_context(viewport=WALL)
    page = open_dashboard(context, base)
    sensor, metric = kinds_stack["sensor"], kinds_stack["metric"]

    open_panel(page, sensor)
    chart = page.locator(f"[data-device-panel] .chart[data-metric='{metric}']")
    assert chart.count() == 1
    push(base, kinds_stack["token"], sensor, "reading", {metric: 42.5})
    page.wait_for_selector(
        f"[data-device-panel] .chart[data-metric='{metric}'][data-live]", timeout=20000
    )
    shot(page, "ops-panel-sensor")

    # An HLS camera gets a player: the browser's own HLS where it has it (this chromium
    # says "maybe"), else the vendored hls.js, loaded only then.
    camera = kinds_stack["camera"]
    open_panel(page, camera)
    video = "[data-device-panel] video[data-hls-player]"
    native = page.evaluate(
        "() => document.createElement('video').canPlayType('application/vnd.apple.mpegurl')"
    )
    engine = "native" if native else "hls.js"
    page.wait_for_selector(f"{video}[data-engine='{engine}']", state="attached")
    page.add_init_script(
        """(() => {
            const own = HTMLMediaElement.prototype.canPlayType;
            HTMLMediaElement.prototype.canPlayType = function (type) {
                return /mpegurl/i.test(type) ? "" : own.call(this, type);
            };
        })();"""
    )
    page.reload()
    page.wait_for_selector("[data-live-status][data-state=live]", timeout=20000)
    open_panel(page, camera)
    page.wait_for_selector(f"{video}[data-engine='hls.js']", state="attached", timeout=10000)
    assert page.evaluate("() => typeof window.Hls") == "function"
    # The stream's address does not answer: the player says so instead of spinning.
    page.wait_for_selector("[data-device-panel] [data-player-error]:not([hidden])", timeout=20000)

    # The operator commands the signal from the panel, with a reason and a confirmation.
    open_panel(page, kinds_stack["signal"])
    form = page.locator("[data-device-panel] [data-testid=signal-command-form]")
    form.locator("select[name=action]").select_option("flash")
    form.locator("textarea[name=reason]").fill("Kiểm thử từ bảng bên")
    form.locator("summary").click()
    form.locator("input[name=confirm]").check()
    form.locator("button[type=submit]").click()
    page.wait_for_function(
        "() => (document.querySelector('[data-panel-message]')?.innerText || '')"
        ".startsWith('Đã gửi lệnh')",
        timeout=15000,
    )
    shot(page, "ops-panel-signal")

    # The device page draws with the same shared chart module.
    page.goto(f"{base}/ops/devices/{sensor}/")
    page.wait_for_selector("[data-readings-charts][data-ready=true]", timeout=15000)
    assert page.locator(f"[data-readings-charts] .chart[data-metric='{metric}'] canvas").count()

    page.goto(f"{base}/ops/reports/")
    page.wait_for_selector("[data-report-chart][data-ready]")
    shot(page, "ops-reports")
    assert page.errors == []
    context.close()


# --- A camera played live in the panel ------------------------------------------------------

# Every websocket the page opens to the video relay, kept so the test can see them close.
TRACK_VIDEO_SOCKETS = """(() => {
    const Native = window.WebSocket;
    const sockets = [];
    window.__videoSockets = sockets;
    window.WebSocket = class extends Native {
        constructor(...args) {
            super(...args);
            if (String(args[0]).includes("/video/")) sockets.push(this);
        }
    };
})();"""
PANEL_VIDEO = "[data-device-panel] [data-live-video]"


def open_viewings(code: str) -> list[str]:
    """The qualities of camera ``code``'s viewing sessions the relay has not ended."""
    return list(
        ViewingSession.objects.filter(device__code=code, ended_at__isnull=True).values_list(
            "quality", flat=True
        )
    )


def panel_video(page: Any) -> dict[str, Any]:
    """What the panel's live video shows."""
    return page.evaluate(
        """(selector) => {
            const root = document.querySelector(selector);
            const video = root.querySelector('video');
            return {
                state: root.dataset.state, quality: root.dataset.quality,
                time: video.currentTime,
                frames: video.getVideoPlaybackQuality().totalVideoFrames,
                text: root.querySelector('[data-video-state]').textContent,
                fallbackHidden: root.querySelector('[data-video-fallback]').hidden,
                headSnapshotHidden: document.querySelector('[data-device-snapshot]').hidden,
            };
        }""",
        PANEL_VIDEO,
    )


def sockets_closed(page: Any) -> None:
    """Wait until every websocket the page opened to the relay is closed (readyState 3)."""
    page.wait_for_function(
        "() => window.__videoSockets.length > 0"
        " && window.__videoSockets.every((socket) => socket.readyState === WebSocket.CLOSED)",
        timeout=10000,
    )


def relay_viewers_left(code: str) -> None:
    """Wait until the relay has ended every viewing session of camera ``code`` (its
    consumer's disconnect leaves the feed and ends the session together)."""
    wait_for(lambda: outside_loop(open_viewings, code=code) == [], 10, f"{code}'s viewers to leave")


@pytest.fixture
def live_panel(stack: Stack, tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A camera of official1's ward on the simulator's RTSP server, its snapshot on a small
    HTTP server, a sensor to switch to, and the server; read before the browser."""
    camera = example_device(OWN_WARD)
    sensor = Device.objects.filter(kind=DeviceKind.SENSOR).order_by("code").first()
    assert sensor is not None
    with snapshot_server() as snapshots, simulated_cameras([camera], tmp_path / "clips"):
        CameraDetail.objects.filter(device=camera).update(
            snapshot_url=f"{snapshots}/{camera.code}.jpg"
        )
        yield {"url": stack.server(), "camera": camera.code, "sensor": sensor.code}


def test_the_panel_plays_a_cameras_sub_stream_and_leaves_the_relay_when_closed(
    live_panel: dict[str, Any], browser: Any
) -> None:
    base, camera = live_panel["url"], live_panel["camera"]
    context = browser.new_context(viewport=WALL)
    context.add_init_script(TRACK_VIDEO_SOCKETS)
    page = open_dashboard(context, base)
    open_panel(page, camera)
    page.wait_for_selector(f"{PANEL_VIDEO}[data-state=live]", timeout=30000)
    first = panel_video(page)
    page.wait_for_timeout(2000)
    later = panel_video(page)
    assert later["time"] > first["time"] + 1  # frames advance: a moving picture
    assert later["frames"] > first["frames"] + 5
    assert (later["state"], later["quality"], later["text"]) == ("live", "sub", "Trực tiếp")
    # The video lies where the snapshot was: neither the head's figure nor the fallback shows.
    assert later["fallbackHidden"] is True and later["headSnapshotHidden"] is True
    assert outside_loop(open_viewings, code=camera) == ["sub"]  # one viewer, of the sub-stream
    shot(page, "ops-panel-live-video")

    # Closing the panel stops the player: its socket closes and the relay's viewer leaves.
    page.click("[data-device-close]")
    sockets_closed(page)
    assert page.locator(PANEL_VIDEO).count() == 0
    relay_viewers_left(camera)
    # And it stays closed (the search box, losing focus, does not search the code again).
    page.wait_for_timeout(1000)
    assert page.locator("[data-device-panel]").is_hidden()
    assert page.locator(PANEL_VIDEO).count() == 0

    # So does choosing another device while the camera plays.
    open_panel(page, camera)
    page.wait_for_selector(f"{PANEL_VIDEO}[data-state=live]", timeout=30000)
    assert outside_loop(open_viewings, code=camera) == ["sub"]
    open_panel(page, live_panel["sensor"])
    sockets_closed(page)
    relay_viewers_left(camera)
    # The head's snapshot figure is the sensor's again: hidden, as for any sensor; and a
    # camera that plays live hides it once more when chosen again.
    assert page.locator("[data-device-snapshot]").is_hidden()

    # A panel closed while its player still awaited its address opens no socket after.
    opened = page.evaluate(
        """async (code) => {
            const panel = document.querySelector('script[src*="dashboard.js"]').src;
            const { LiveVideo } = await import(new URL("../../cameras/live_video.js", panel));
            const root = document.createElement('div');
            root.dataset.streamUrl = `/ops/devices/${code}/stream`;
            root.append(document.createElement('video'));
            root.querySelector('video').dataset.video = '';
            const before = window.__videoSockets.length;
            const live = new LiveVideo(root, { reasons: {} });
            live.start();
            live.stop();
            await new Promise((done) => setTimeout(done, 3000));
            return window.__videoSockets.length - before;
        }""",
        camera,
    )
    assert opened == 0
    assert page.errors == []
    context.close()
