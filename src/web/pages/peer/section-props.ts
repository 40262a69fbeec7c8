/**
 * What the signed-in page (Shell.tsx) hands each of its sections: the agent's lists, their
 * problems, and the actions the sections share. Its own file so the sections and the shell
 * import it without importing each other.
 */
import type {
  AgentStatus,
  OwnImageView,
  PeerView,
  ReceivedView,
  RequestView,
} from '../../../peer/api-types.js';
import type { PeerApi } from './api.js';
import type { Problem, Resource } from './model.js';
import type { ViewTarget } from './Viewer.js';

/** The lists the page keeps, one per {@link Resource}. */
export interface Lists {
  status: AgentStatus;
  images: OwnImageView[];
  peers: PeerView[];
  inbox: RequestView[];
  sent: RequestView[];
  received: ReceivedView[];
}

/** What every section gets. */
export interface SectionProps {
  api: PeerApi;
  me: string;
  data: Partial<Lists>;
  problems: Partial<Record<Resource, Problem>>;
  refresh: (resources: Resource[]) => void;
  openView: (target: ViewTarget) => void;
  titleOf: (owner: string, imageId: string) => string | null;
  onEncryptProgress: (listener: (operation: string, step: string) => void) => () => void;
}
