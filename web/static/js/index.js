// The front door: logged-in users go home, everyone else to the login page.
import { me } from './api.js';

me().then(() => location.replace('/home'), () => location.replace('/login'));
