/** Entry of the peer app (served by the user's agent on 127.0.0.1): mounts the app on #app. */
import { render } from 'preact';
import '../shared/base.css';
import './peer.css';
import { App } from './App.js';

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
