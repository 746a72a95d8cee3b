/**
 * One load per key at a time: a call that comes while a load of its key runs shares it, so that a
 * flood of the same request costs one read (a /metrics collection, a log tile).
 *
 * A shared result is as old as the load's start, earlier than the calls that joined it. One that
 * `lasting` refuses (it may have changed since: a tile not in the log yet) is not handed to those
 * late calls: they share one more load, begun after they all came. The load's own caller gets its
 * result as it is.
 */
export class SingleFlight<T> {
  private readonly flights = new Map<string, Promise<T>>();

  run(
    key: string,
    load: () => Promise<T>,
    lasting: (value: T) => boolean = () => true,
  ): Promise<T> {
    const flight = this.flights.get(key);
    if (!flight) return this.start(key, load);
    // The flight has left the map when this runs: a flight there now began after this call came.
    return flight.then((value) =>
      lasting(value) ? value : (this.flights.get(key) ?? this.start(key, load)),
    );
  }

  private start(key: string, load: () => Promise<T>): Promise<T> {
    const flight: Promise<T> = load().finally(() => {
      if (this.flights.get(key) === flight) this.flights.delete(key);
    });
    this.flights.set(key, flight);
    return flight;
  }
}
