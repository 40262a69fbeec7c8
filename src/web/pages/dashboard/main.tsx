/** Entry of the cloud dashboard page: mounts the app on #app. */
import { render } from 'preact';
import '../shared/base.css';
import './dashboard.css';
import { App } from './App.js';

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App streamUrl="/events" />, root);
}
