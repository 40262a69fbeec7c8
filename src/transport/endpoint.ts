/** Where a process listens: a host name or address and a TCP port. */
export interface Endpoint {
  host: string;
  port: number;
}
