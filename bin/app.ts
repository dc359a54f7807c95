#!/usr/bin/env node
import { App } from 'aws-cdk-lib';
import { configureApp } from '../lib/app';

configureApp(new App());
