"""agno's own Python client (agno 3.1.10's AgentOSClient) against this AgentOS: every call the
reference measured, plus the evaluation routes. Each call is validated by agno's pydantic
schemas; any failure is printed and the exit code is 1. Usage: python agno_client.py BASE_URL"""
import asyncio
import sys

from agno.client import AgentOSClient


async def main(base_url: str) -> int:
    client = AgentOSClient(base_url=base_url)
    results = {}

    async def step(name, call):
        try:
            value = await call
            results[name] = "ok"
            return value
        except Exception as error:  # the report says which call failed and why
            results[name] = f"FAIL {type(error).__name__}: {str(error)[:300]}"
            return None

    async def stream(agent_id):
        return sum([1 async for _ in client.run_agent_stream(agent_id, message="Hi again")])

    await step("get_config", client.aget_config())
    agents = await step("list_agents", client.list_agents()) or []
    agent_id = agents[0].id if agents else "missing"
    await step("get_agent", client.aget_agent(agent_id))
    run = await step("run_agent", client.run_agent(agent_id, message="Hello there"))
    await step("run_agent_stream", stream(agent_id))
    await step("get_sessions", client.get_sessions())
    session_id = getattr(run, "session_id", "missing")
    await step("get_session", client.get_session(session_id))
    await step("get_session_runs", client.get_session_runs(session_id))
    for _ in range(50):  # the evaluation runs after the response
        evals = await step("list_eval_runs", client.list_eval_runs())
        if evals is not None and evals.data:
            break
        await asyncio.sleep(0.1)
    eval_id = evals.data[0].id if evals is not None and evals.data else "missing"
    await step("get_eval_run", client.get_eval_run(eval_id))
    for name, result in results.items():
        print(f"{name}: {result}")
    failed = sum(1 for r in results.values() if r != "ok")
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


sys.exit(asyncio.run(main(sys.argv[1])))
