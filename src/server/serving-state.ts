/** What the process is doing; shared by every listener of the process. */
export interface ServingState {
  /** Set at SIGTERM/SIGINT: the load balancer must stop sending traffic. */
  draining: boolean;
}

export const createServingState = (): ServingState => ({ draining: false });
