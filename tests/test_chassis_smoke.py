import asyncio

from tests.support import chassis_app
from tests.support.load import budget


async def wait_until(predicate, timeout=20.0, interval=0.05):
    deadline = asyncio.get_running_loop().time() + budget(timeout)
    while True:
        result = await predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(interval)


async def test_append_relay_consume(service):
    async with service(chassis_app) as svc:
        rt = svc.runtime
        await rt.execute(stream_id="s-1", integrator_id="i-1", decide=chassis_app.send_sheet("alice"))
        assert await rt.projections.get("sheets", "i-1") == {"sheets": 1, "senders": ["alice"]}

        async def consumed():
            return await rt.pool.fetchval("SELECT count(*) FROM consumed") == 1

        await wait_until(consumed)
        r = await svc.http.get("/readyz")
        assert r.status_code == 200, r.text
