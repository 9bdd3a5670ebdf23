import { randomUUID } from 'node:crypto';
import type { LocationType } from '../config/schema.js';

/** One entry of Calven's `occupancyEvents` array. */
export interface OccupancyEvent {
  timestamp: string;
  locationId: string;
  locationType: LocationType;
  eventId: string;
  occupied: boolean;
  /** Absent for `place` (desks, phone booths): Calven takes only occupied/unoccupied there. */
  occupancy?: number;
}

export const MAX_EVENTS_PER_REQUEST = 100;

export function buildOccupancyEvent(
  room: { locationId: string; locationType: LocationType },
  count: number,
  at: number,
  eventId: string = randomUUID(),
): OccupancyEvent {
  if (!Number.isInteger(count) || count < 0) throw new Error(`invalid person count ${count}`);
  const event: OccupancyEvent = {
    timestamp: new Date(at).toISOString(),
    locationId: room.locationId,
    locationType: room.locationType,
    eventId,
    occupied: count > 0,
  };
  if (room.locationType !== 'place') event.occupancy = count;
  return event;
}

/**
 * The exact bytes of `POST /v1/occupancy` from events already serialised (as the outbox stores them). The Calven
 * sink posts it and the stdout sink prints it, so a dry run shows what would be sent.
 */
export function requestBodyText(sourceId: string, eventJsons: readonly string[]): string {
  if (eventJsons.length === 0 || eventJsons.length > MAX_EVENTS_PER_REQUEST) {
    throw new Error(`a request carries 1..${MAX_EVENTS_PER_REQUEST} events, got ${eventJsons.length}`);
  }
  return `{"sourceId":${JSON.stringify(sourceId)},"occupancyEvents":[${eventJsons.join(',')}]}`;
}
