// The one way the plugin reaches dockerd: its socket (DOCKER_SOCKET, else the default).
import Docker from 'dockerode';

/** A dockerd client; `timeoutMs` bounds each request, null for the event stream, which stays open. */
export function dockerClient(timeoutMs: number | null = 5000): Docker {
  const socketPath = process.env.DOCKER_SOCKET ?? '/var/run/docker.sock';
  return timeoutMs === null ? new Docker({ socketPath }) : new Docker({ socketPath, timeout: timeoutMs });
}
